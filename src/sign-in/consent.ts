// The consent prompt: the person allows or denies what an application asks for.
//
// What is asked: only what the person has not already granted this application (oidc-provider's
// consent checks compare the request with the grant that src/sign-in/remembered-consent.ts loads,
// which carries earlier consent over from previous sessions). Allow records the new scopes,
// claims and API scopes in that grant; Deny ends the request with access_denied
// (RFC 6749 §4.1.2.1), which oidc-provider returns to the client's redirect_uri.
//
// First-party applications (registry flag first_party) are not asked: the operator's decision
// stands in for the person's, which OpenID Connect Core §3.1.2.4 allows ("previous
// administrative consent"). Except when the application asks for the prompt itself
// (prompt=consent, Core §3.1.2.1), and except for native apps when the person did not sign in
// during this request: a native app's redirect URI cannot prove which app receives the code,
// so no silent grant is made from an existing session (RFC 8252 §8.6).
import type { Context } from 'koa';
import type { Client, Grant } from 'oidc-provider';
import { z } from 'zod';
import { getUserById } from '../accounts/users.js';
import { gatehouseMetadataOf } from '../clients/provider-metadata.js';
import { finishInteraction, type LoadedInteraction } from './interaction.js';
import { readForm } from './form.js';
import { CSRF_PAGE, EXPIRED_PAGE, sendErrorPage, sendPage } from '../pages/pages.js';
import { describePermissions } from './scopes.js';
import type { InteractionDeps } from './deps.js';

const consentFormSchema = z.strictObject({
  csrf: z.string().max(200).optional(),
  decision: z.enum(['allow', 'deny']),
});

const abortFormSchema = z.strictObject({ csrf: z.string().max(200).optional() });

/** RFC 6749 §4.1.2.1: "The resource owner or authorization server denied the request." */
const ACCESS_DENIED = { error: 'access_denied', error_description: 'End-User denied the authorization request' } as const;

function requestedScopes(interaction: LoadedInteraction): string[] {
  const details = interaction.prompt.details;
  return [...(details.missingOIDCScope ?? []), ...Object.values(details.missingResourceScopes ?? {}).flat()];
}

/** Adds what was asked for to the person's grant for this client and saves it. */
export async function grantRequested(deps: InteractionDeps, interaction: LoadedInteraction, accountId: string): Promise<string> {
  const clientId = interaction.params.client_id;
  let grant: Grant | undefined = interaction.grantId ? await deps.provider.Grant.find(interaction.grantId) : undefined;
  if (!grant || grant.accountId !== accountId || grant.clientId !== clientId) {
    grant = new deps.provider.Grant({ accountId, clientId });
  }
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = interaction.prompt.details;
  if (missingOIDCScope?.length) grant.addOIDCScope(missingOIDCScope.join(' '));
  if (missingOIDCClaims?.length) grant.addOIDCClaims(missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
    if (scopes.length) grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

async function allow(ctx: Context, deps: InteractionDeps, interaction: LoadedInteraction, accountId: string, automatic: boolean): Promise<void> {
  const grantId = await grantRequested(deps, interaction, accountId);
  await deps.audit({
    type: 'consent.granted',
    outcome: 'success',
    subject: accountId,
    clientId: interaction.params.client_id,
    ip: ctx.ip,
    details: { scope: requestedScopes(interaction), automatic: automatic ? 'first_party' : null },
  });
  await finishInteraction(deps.provider, ctx, { consent: { grantId } });
}

function skipsConsent(client: Client, interaction: LoadedInteraction): boolean {
  if (!gatehouseMetadataOf(client).firstParty) return false;
  if (interaction.prompt.reasons.includes('consent_prompt')) return false;
  return client.applicationType !== 'native' || interaction.signedInJustNow;
}

export async function showConsentPrompt(ctx: Context, deps: InteractionDeps, interaction: LoadedInteraction): Promise<void> {
  const client = await deps.provider.Client.find(interaction.params.client_id);
  const accountId = interaction.accountId;
  if (!client || !accountId) return sendErrorPage(ctx, EXPIRED_PAGE);
  if (skipsConsent(client, interaction)) return allow(ctx, deps, interaction, accountId, true);

  const user = await getUserById(deps.prisma, accountId);
  let permissions = await describePermissions(deps.prisma, interaction.prompt.details);
  // A native app asks every time (RFC 8252 §8.6) even when nothing is new: show what it gets.
  if (permissions.length === 0) {
    permissions = await describePermissions(deps.prisma, { missingOIDCScope: (interaction.params.scope ?? '').split(' ') });
  }
  const { uid } = interaction;
  sendPage(
    ctx,
    'consent',
    {
      title: `Allow ${client.clientName ?? client.clientId}?`,
      clientName: client.clientName ?? client.clientId,
      userEmail: user?.email ?? null,
      permissions,
      action: `/interaction/${uid}/consent`,
      csrf: deps.csrf.token('consent', uid),
    },
    { formTargets: [interaction.params.redirect_uri] },
  );
}

export async function submitConsent(ctx: Context, deps: InteractionDeps, interaction: LoadedInteraction): Promise<void> {
  const form = await readForm(ctx, consentFormSchema);
  if (!deps.csrf.verify('consent', interaction.uid, form.csrf)) return sendErrorPage(ctx, CSRF_PAGE);
  const accountId = interaction.accountId;
  if (!accountId) return sendErrorPage(ctx, EXPIRED_PAGE);

  if (form.decision === 'allow') return allow(ctx, deps, interaction, accountId, false);

  await deps.audit({
    type: 'consent.denied',
    outcome: 'success',
    subject: accountId,
    clientId: interaction.params.client_id,
    ip: ctx.ip,
    details: { scope: requestedScopes(interaction) },
  });
  await finishInteraction(deps.provider, ctx, { ...ACCESS_DENIED });
}

/** "Cancel" on the login page: the person does not want to sign in to this application. */
export async function submitAbort(ctx: Context, deps: InteractionDeps, interaction: LoadedInteraction): Promise<void> {
  const form = await readForm(ctx, abortFormSchema);
  if (!deps.csrf.verify('abort', interaction.uid, form.csrf)) return sendErrorPage(ctx, CSRF_PAGE);
  await finishInteraction(deps.provider, ctx, { ...ACCESS_DENIED, error_description: 'End-User cancelled the sign-in' });
}
