// Factor management for the signed-in person, linked from the account page (/account):
//
//   GET  /account/security                          factors: authenticator app, passkeys, recovery codes
//   POST /account/security/totp                     start adding an authenticator app (QR code)
//   POST /account/security/totp/confirm             its first code turns it on
//   POST /account/security/totp/remove
//   POST /account/security/passkeys/options         WebAuthn registration options (JSON)
//   POST /account/security/passkeys                 the new passkey, with its name
//   POST /account/security/passkeys/:id/remove
//   POST /account/security/recovery-codes           ten new codes (the old ones stop working)
//
// The person is the one of oidc-provider's session (signedInSession). A person who has a factor
// must have used one in this session (acr at the MFA level) to change any: a password alone,
// perhaps a stolen one, cannot remove a second factor or add the thief's. Forms carry a CSRF
// token bound to the session.
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { getUserById, type UserView } from '../accounts/users.js';
import { CSRF_PAGE, FORM_UNREADABLE_PAGE, sendErrorPage, sendPage } from '../pages/pages.js';
import { signedInSession, type SignedInSession } from '../oidc/provider-internals.js';
import { FormError, readForm } from '../sign-in/form.js';
import { MFA_ACR } from './acr.js';
import type { MfaDeps } from './deps.js';
import { hasSecondFactor, listFactors } from './factors.js';
import { listPasskeys, registerPasskey, registrationOptions, removePasskey } from './passkeys.js';
import { generateRecoveryCodes, remainingRecoveryCodes } from './recovery-codes.js';
import { confirmTotp, pendingTotpEnrolment, removeTotp, startTotpEnrolment } from './totp.js';

const SECURITY_PATH = '/account/security';

const csrfForm = z.strictObject({ csrf: z.string().max(200).optional() });
const confirmForm = csrfForm.extend({ enrolment: z.string().max(100), code: z.string().max(100).default('') });
const passkeyForm = csrfForm.extend({ credential: z.string().max(16_000), name: z.string().trim().min(1).max(60) });
const passkeyIdSchema = z.string().uuid();

const SIGN_IN_FIRST = {
  status: 401,
  title: 'Sign in first',
  message: 'Your security settings are shown to the person signed in. Open your account page and sign in, then come back.',
  code: 'not_signed_in',
};

const SECOND_FACTOR_FIRST = {
  status: 403,
  title: 'Confirm with your second factor first',
  message: 'You signed in without your second factor. Sign out, then sign in again with your authenticator app, passkey or a recovery code to change your security settings.',
  code: 'second_factor_required',
};

type Person = { session: SignedInSession; user: UserView };
type PersonHandler = (ctx: Context, deps: MfaDeps, person: Person) => Promise<void>;

function withPerson(deps: MfaDeps, handler: PersonHandler) {
  return async (ctx: Context) => {
    const session = await signedInSession(deps.provider(), ctx);
    const user = session ? await getUserById(deps.prisma, session.accountId) : undefined;
    if (!session || !user || user.disabled) return sendErrorPage(ctx, SIGN_IN_FIRST);
    if (session.acr !== MFA_ACR && (await hasSecondFactor(deps.prisma, user.id))) return sendErrorPage(ctx, SECOND_FACTOR_FIRST);
    try {
      await handler(ctx, deps, { session, user });
    } catch (error) {
      if (error instanceof FormError) return sendErrorPage(ctx, FORM_UNREADABLE_PAGE);
      throw error;
    }
  };
}

const csrfOf = (deps: MfaDeps, person: Person) => deps.csrf.token('mfa-account', person.session.id);

async function formOf<S extends z.ZodType>(ctx: Context, deps: MfaDeps, person: Person, schema: S): Promise<z.output<S> | undefined> {
  const form = await readForm(ctx, schema);
  if (!deps.csrf.verify('mfa-account', person.session.id, (form as { csrf?: string }).csrf)) {
    sendErrorPage(ctx, CSRF_PAGE);
    return undefined;
  }
  return form;
}

function backToList(ctx: Context): void {
  ctx.status = 303;
  ctx.redirect(SECURITY_PATH);
}

const showSecurity: PersonHandler = async (ctx, deps, person) => {
  const [factors, passkeys, remaining] = await Promise.all([
    listFactors(deps.prisma, person.user.id),
    listPasskeys(deps.prisma, person.user.id),
    remainingRecoveryCodes(deps.prisma, person.user.id),
  ]);
  const totp = factors.find((f) => f.kind === 'totp');
  sendPage(
    ctx,
    'mfa-security',
    {
      title: 'Security',
      email: person.user.email,
      csrf: csrfOf(deps, person),
      totp: totp ? { created: totp.created_at.slice(0, 10), lastUsed: totp.last_used_at?.slice(0, 10) ?? null } : null,
      passkeys: passkeys.map((p) => ({
        name: p.name,
        created: p.createdAt.toISOString().slice(0, 10),
        lastUsed: p.lastUsedAt?.toISOString().slice(0, 10) ?? null,
        synced: p.backedUp,
        removeAction: `${SECURITY_PATH}/passkeys/${p.id}/remove`,
      })),
      remaining,
      hasCodes: factors.some((f) => f.kind === 'recovery_codes'),
      base: SECURITY_PATH,
    },
    { scripts: true },
  );
};

async function showTotpEnrolment(ctx: Context, deps: MfaDeps, person: Person, enrolmentId?: string, error?: string): Promise<void> {
  const enrolment =
    (enrolmentId ? await pendingTotpEnrolment(deps.prisma, deps.kek, person.user.id, enrolmentId, person.user.email, 'Gatehouse') : undefined) ??
    (await startTotpEnrolment(deps.prisma, deps.kek, person.user.id, person.user.email, 'Gatehouse'));
  sendPage(
    ctx,
    'mfa-totp-add',
    {
      title: 'Add an authenticator app',
      error,
      qrSvg: enrolment.qrSvg,
      secret: enrolment.secret.replace(/(.{4})/g, '$1 ').trim(),
      enrolment: enrolment.id,
      action: `${SECURITY_PATH}/totp/confirm`,
      csrf: csrfOf(deps, person),
      backHref: SECURITY_PATH,
    },
    { status: error ? 400 : 200 },
  );
}

/** After a first factor was added: recovery codes, if the person has none yet (shown once). */
async function afterAdding(ctx: Context, deps: MfaDeps, person: Person, factor: 'totp' | 'passkey'): Promise<void> {
  await deps.audit({ type: 'mfa.enrolled', outcome: 'success', subject: person.user.id, ip: ctx.ip, details: { factor, during: 'account' } });
  if ((await deps.prisma.mfaRecoveryCode.count({ where: { userId: person.user.id } })) > 0) return backToList(ctx);
  return showNewCodes(ctx, deps, person);
}

async function showNewCodes(ctx: Context, deps: MfaDeps, person: Person): Promise<void> {
  const codes = await generateRecoveryCodes(deps.prisma, person.user.id);
  await deps.audit({ type: 'mfa.recovery_codes_generated', outcome: 'success', subject: person.user.id, ip: ctx.ip, details: { count: codes.length } });
  sendPage(ctx, 'mfa-recovery-codes', { title: 'Save your recovery codes', codes, continueAction: null, backHref: SECURITY_PATH });
}

export function securityRoutes(deps: MfaDeps): Router {
  const router = new Router({ prefix: SECURITY_PATH });
  if (deps.config.mfa === 'off') return router;
  router.get('/', withPerson(deps, showSecurity));
  router.post(
    '/totp',
    withPerson(deps, async (ctx, d, person) => {
      if (await formOf(ctx, d, person, csrfForm)) await showTotpEnrolment(ctx, d, person);
    }),
  );
  router.post(
    '/totp/confirm',
    withPerson(deps, async (ctx, d, person) => {
      const form = await formOf(ctx, d, person, confirmForm);
      if (!form) return;
      // Not under the lockout: the person is signed in (with their second factor if they had one).
      if (!(await confirmTotp(d.prisma, d.kek, person.user.id, form.enrolment, form.code.replace(/\s/g, '')))) {
        return showTotpEnrolment(ctx, d, person, form.enrolment, 'That code is not right. Check the app shows Gatehouse and try the newest code.');
      }
      return afterAdding(ctx, d, person, 'totp');
    }),
  );
  router.post(
    '/totp/remove',
    withPerson(deps, async (ctx, d, person) => {
      if (!(await formOf(ctx, d, person, csrfForm))) return;
      if ((await removeTotp(d.prisma, person.user.id)) > 0) {
        await d.audit({ type: 'mfa.removed', outcome: 'success', subject: person.user.id, ip: ctx.ip, details: { factor: 'totp' } });
      }
      return backToList(ctx);
    }),
  );
  router.post(
    '/passkeys/options',
    withPerson(deps, async (ctx, d, person) => {
      const form = await readForm(ctx, csrfForm);
      if (!d.csrf.verify('mfa-account', person.session.id, form.csrf)) {
        ctx.status = 403;
        ctx.body = { error: 'csrf_check_failed' };
        return;
      }
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await registrationOptions(d.prisma, d.rp, { id: person.user.id, email: person.user.email, name: person.user.name }, `session:${person.session.id}`);
    }),
  );
  router.post(
    '/passkeys',
    withPerson(deps, async (ctx, d, person) => {
      const form = await formOf(ctx, d, person, passkeyForm);
      if (!form) return;
      const registered = await registerPasskey(d.prisma, d.rp, person.user.id, `session:${person.session.id}`, form.credential, form.name);
      if (!registered) {
        return sendErrorPage(ctx, { status: 400, title: 'The passkey was not added', message: 'The browser’s answer could not be verified. Go back and try again.', code: 'passkey_refused' });
      }
      return afterAdding(ctx, d, person, 'passkey');
    }),
  );
  router.post(
    '/passkeys/:id/remove',
    withPerson(deps, async (ctx, d, person) => {
      if (!(await formOf(ctx, d, person, csrfForm))) return;
      const id = passkeyIdSchema.safeParse((ctx.params as { id?: string }).id);
      if (id.success && (await removePasskey(d.prisma, person.user.id, id.data))) {
        await d.audit({ type: 'mfa.removed', outcome: 'success', subject: person.user.id, ip: ctx.ip, details: { factor: 'passkey' } });
      }
      return backToList(ctx);
    }),
  );
  router.post(
    '/recovery-codes',
    withPerson(deps, async (ctx, d, person) => {
      if (await formOf(ctx, d, person, csrfForm)) await showNewCodes(ctx, d, person);
    }),
  );
  return router;
}
