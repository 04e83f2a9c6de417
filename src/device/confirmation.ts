// The confirmation step of the device flow: the person, signed in, sees which client the code
// belongs to, what it will be able to do, and the code itself to compare with the device
// (RFC 8628 §5.4, remote phishing), and approves or denies. It is the consent step of a device
// interaction: the policy check in src/device/flow.ts requests it for every device code,
// even when earlier consent covers the scopes or the client is first-party.
//
// Approve records the scopes in the person's grant for the client (as consent does) and returns
// to oidc-provider, which completes the device code: the device's next poll gets its tokens.
// Deny ends it with access_denied (RFC 8628 §3.5), which the device gets on its next poll.
import type { Context } from 'koa';
import { z } from 'zod';
import { getUserById } from '../accounts/users.js';
import { grantRequested } from '../sign-in/consent.js';
import type { InteractionDeps } from '../sign-in/deps.js';
import { readForm } from '../sign-in/form.js';
import { finishInteraction, type LoadedInteraction } from '../sign-in/interaction.js';
import { CSRF_PAGE, EXPIRED_PAGE, sendErrorPage, sendPage } from '../pages/pages.js';
import { describePermissions } from '../sign-in/scopes.js';
import type { ConsentVariant } from '../sign-in/routes.js';

/** The reason oidc-provider's consent prompt carries for a device code (src/device/flow.ts). */
export const DEVICE_CONFIRMATION = 'device_confirmation';

/** What the device asked for, as the policy check put it in the prompt's details. */
const deviceRequestSchema = z.object({
  userCode: z.string(),
  oidcScopes: z.array(z.string()),
  resourceScopes: z.record(z.string(), z.array(z.string())),
});
export type DeviceRequest = z.infer<typeof deviceRequestSchema>;

const confirmationFormSchema = z.strictObject({
  csrf: z.string().max(200).optional(),
  decision: z.enum(['approve', 'deny']),
});

function isDeviceConfirmation(interaction: LoadedInteraction): boolean {
  return interaction.prompt.reasons.includes(DEVICE_CONFIRMATION);
}

function deviceRequestOf(interaction: LoadedInteraction): DeviceRequest | null {
  const parsed = deviceRequestSchema.safeParse(interaction.prompt.details.deviceRequest);
  return parsed.success ? parsed.data : null;
}

function scopesOf(request: DeviceRequest | null): string[] {
  return request ? [...request.oidcScopes, ...Object.values(request.resourceScopes).flat()] : [];
}

async function showDeviceConfirmation(ctx: Context, deps: InteractionDeps, interaction: LoadedInteraction): Promise<void> {
  const client = await deps.provider.Client.find(interaction.params.client_id);
  const request = deviceRequestOf(interaction);
  const accountId = interaction.accountId;
  if (!client || !accountId || !request) return sendErrorPage(ctx, EXPIRED_PAGE);
  const user = await getUserById(deps.prisma, accountId);
  const clientName = client.clientName ?? client.clientId;
  const permissions = await describePermissions(deps.prisma, {
    missingOIDCScope: request.oidcScopes,
    missingResourceScopes: request.resourceScopes,
  });
  sendPage(ctx, 'device-confirm', {
    title: `Connect ${clientName}?`,
    clientName,
    userEmail: user?.email ?? null,
    userCode: request.userCode,
    permissions,
    action: `/interaction/${interaction.uid}/device`,
    csrf: deps.csrf.token('device', interaction.uid),
  });
}

async function submitDeviceConfirmation(ctx: Context, deps: InteractionDeps, interaction: LoadedInteraction): Promise<void> {
  if (!isDeviceConfirmation(interaction)) return sendErrorPage(ctx, { ...EXPIRED_PAGE, code: 'interaction_step_mismatch' });
  const form = await readForm(ctx, confirmationFormSchema);
  if (!deps.csrf.verify('device', interaction.uid, form.csrf)) return sendErrorPage(ctx, CSRF_PAGE);
  const accountId = interaction.accountId;
  if (!accountId) return sendErrorPage(ctx, EXPIRED_PAGE);
  const event = { subject: accountId, clientId: interaction.params.client_id, ip: ctx.ip, details: { scope: scopesOf(deviceRequestOf(interaction)) } };

  if (form.decision === 'approve') {
    const grantId = await grantRequested(deps, interaction, accountId);
    await deps.audit({ type: 'device.approved', outcome: 'success', ...event });
    return finishInteraction(deps.provider, ctx, { consent: { grantId } });
  }
  await deps.audit({ type: 'device.denied', outcome: 'success', ...event });
  await finishInteraction(deps.provider, ctx, { error: 'access_denied', error_description: 'End-User denied the device authorization' });
}

/** The device confirmation as a variant of the consent page (src/sign-in/routes.ts). */
export const deviceConfirmationPage: ConsentVariant = {
  matches: isDeviceConfirmation,
  show: showDeviceConfirmation,
  form: 'device',
  submit: submitDeviceConfirmation,
};
