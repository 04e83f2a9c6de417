// The second factor inside an authorization request. After a right password (src/sign-in/
// login.ts hands over through SignInExtension), or when a person already signed in must step
// up (the login prompt's mfa_required check, configuration.ts), the person proves a second
// factor before oidc-provider gets the login result { accountId, amr, acr }:
//
//   GET  /interaction/:uid/mfa                  choose a factor (or enrol one when required)
//   POST /interaction/:uid/mfa/totp             a TOTP code
//   POST /interaction/:uid/mfa/recovery         a recovery code
//   POST /interaction/:uid/mfa/passkey-options  WebAuthn options for the person's passkeys (JSON)
//   POST /interaction/:uid/mfa/passkey          the passkey's answer
//   POST /interaction/:uid/mfa/enrol-totp       first code of a new authenticator app
//   POST /interaction/:uid/mfa/enrol-passkey-options, /enrol-passkey   a new passkey
//   POST /interaction/:uid/mfa/continue         after the new recovery codes were shown
//   POST /interaction/:uid/passkey-options, /passkey   passwordless sign-in with a passkey
//
// Every POST carries a CSRF token for its interaction and is checked against the interaction
// named by the cookie (src/sign-in/interaction.ts). TOTP and recovery codes work without script.
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { getUserById } from '../accounts/users.js';
import { clientAddressKey } from '../http/rate-limit.js';
import { INTERACTION_PATH } from '../http/endpoints.js';
import { CSRF_PAGE, EXPIRED_PAGE, FORM_UNREADABLE_PAGE, sendErrorPage, sendPage } from '../pages/pages.js';
import type { SignInExtension } from '../sign-in/deps.js';
import { FormError, readForm } from '../sign-in/form.js';
import { finishInteraction, loadInteraction, type LoadedInteraction } from '../sign-in/interaction.js';
import { acrOf, MFA_ACR, SINGLE_FACTOR_ACR, withSecondFactor, type SecondFactorMethod } from './acr.js';
import { secondFactorAttempt, WRONG_CODE, type AttemptOutcome } from './attempts.js';
import { STEP_UP_REASON } from './configuration.js';
import type { MfaDeps } from './deps.js';
import { hasSecondFactor } from './factors.js';
import { authenticationOptions, hasPasskey, registerPasskey, registrationOptions, verifyPasskey } from './passkeys.js';
import { clearPending, readPending, setPending, type PendingSignIn } from './pending.js';
import { secondFactorNeed } from './policy.js';
import { generateRecoveryCodes, remainingRecoveryCodes, useRecoveryCode } from './recovery-codes.js';
import { confirmTotp, hasTotp, pendingTotpEnrolment, startTotpEnrolment, verifyTotp } from './totp.js';

const codeForm = z.strictObject({ csrf: z.string().max(200).optional(), code: z.string().max(100).default('') });
const csrfForm = z.strictObject({ csrf: z.string().max(200).optional() });
// An empty credential: the passkey button was pressed without JavaScript (the form still posts).
const credentialForm = z.strictObject({ csrf: z.string().max(200).optional(), credential: z.string().max(16_000) });
const NEEDS_SCRIPT = 'Passkeys need JavaScript in this browser. Use another way, or turn JavaScript on.';
const enrolTotpForm = codeForm.extend({ enrolment: z.string().max(100) });
const enrolPasskeyForm = credentialForm.extend({ name: z.string().trim().min(1).max(60) });

/** Reasons of the login prompt that a step-up page answers (the rest need the password form). */
const STEP_UP_REASONS = new Set([STEP_UP_REASON, 'essential_acr', 'essential_acrs']);

function isStepUp(interaction: LoadedInteraction): boolean {
  const { reasons } = interaction.prompt;
  return (
    interaction.prompt.name === 'login' &&
    interaction.accountId !== undefined &&
    reasons.includes(STEP_UP_REASON) &&
    reasons.every((reason) => STEP_UP_REASONS.has(reason))
  );
}

type Step = { interaction: LoadedInteraction; pending: PendingSignIn; stepUp: boolean };

/** The sign-in this request continues: the cookie's after a password, else the session's for a step-up. */
function stepOf(ctx: Context, interaction: LoadedInteraction): Step | undefined {
  if (interaction.prompt.name !== 'login') return undefined;
  const pending = readPending(ctx, interaction.uid);
  if (pending) return { interaction, pending, stepUp: false };
  if (isStepUp(interaction)) return { interaction, pending: { accountId: interaction.accountId!, amr: interaction.sessionAmr ?? [] }, stepUp: true };
  return undefined;
}

const pathOf = (uid: string, action: string) => `${INTERACTION_PATH}/${uid}/${action}`;

async function clientNameOf(deps: MfaDeps, clientId: string): Promise<string> {
  const client = await deps.provider().Client.find(clientId);
  return client?.clientName ?? clientId;
}

async function finishWith(ctx: Context, deps: MfaDeps, step: Step, method: SecondFactorMethod): Promise<void> {
  clearPending(ctx, step.interaction.uid);
  const amr = withSecondFactor(step.pending.amr, method);
  await finishInteraction(deps.provider(), ctx, { login: { accountId: step.pending.accountId, amr, acr: acrOf(amr), remember: true } });
}

type PageState = { error?: string; status?: number; enrolment?: string };

async function showStep(ctx: Context, deps: MfaDeps, step: Step, state: PageState = {}): Promise<void> {
  const { uid } = step.interaction;
  const userId = step.pending.accountId;
  const user = await getUserById(deps.prisma, userId);
  if (!user) return sendErrorPage(ctx, EXPIRED_PAGE);
  const common = {
    clientName: await clientNameOf(deps, step.interaction.params.client_id),
    email: user.email,
    error: state.error,
    csrf: deps.csrf.token(`mfa-${uid}`, uid),
  };
  const options = { status: state.status ?? 200, formTargets: [step.interaction.params.redirect_uri], scripts: true };
  if (!(await hasSecondFactor(deps.prisma, userId))) {
    const enrolment =
      (state.enrolment ? await pendingTotpEnrolment(deps.prisma, deps.kek, userId, state.enrolment, user.email, 'Gatehouse') : undefined) ??
      (await startTotpEnrolment(deps.prisma, deps.kek, userId, user.email, 'Gatehouse'));
    return sendPage(
      ctx,
      'mfa-enrol',
      {
        ...common,
        title: 'Set up a second factor',
        qrSvg: enrolment.qrSvg,
        secret: enrolment.secret.replace(/(.{4})/g, '$1 ').trim(),
        enrolment: enrolment.id,
        totpAction: pathOf(uid, 'mfa/enrol-totp'),
        passkeyAction: pathOf(uid, 'mfa/enrol-passkey'),
        passkeyOptions: pathOf(uid, 'mfa/enrol-passkey-options'),
      },
      options,
    );
  }
  const [totp, passkey, recovery] = await Promise.all([hasTotp(deps.prisma, userId), hasPasskey(deps.prisma, userId), remainingRecoveryCodes(deps.prisma, userId)]);
  sendPage(
    ctx,
    'mfa-challenge',
    {
      ...common,
      title: 'Confirm it is you',
      stepUp: step.stepUp,
      totpAction: totp ? pathOf(uid, 'mfa/totp') : null,
      passkeyAction: passkey ? pathOf(uid, 'mfa/passkey') : null,
      passkeyOptions: pathOf(uid, 'mfa/passkey-options'),
      recoveryAction: recovery > 0 ? pathOf(uid, 'mfa/recovery') : null,
      abortAction: pathOf(uid, 'abort'),
      abortCsrf: deps.csrf.token('abort', uid),
    },
    options,
  );
}

async function showRecoveryCodes(ctx: Context, deps: MfaDeps, step: Step, codes: string[]): Promise<void> {
  const { uid } = step.interaction;
  sendPage(
    ctx,
    'mfa-recovery-codes',
    {
      title: 'Save your recovery codes',
      codes,
      continueAction: pathOf(uid, 'mfa/continue'),
      csrf: deps.csrf.token(`mfa-${uid}`, uid),
    },
    { formTargets: [step.interaction.params.redirect_uri] },
  );
}

type StepHandler = (ctx: Context, deps: MfaDeps, step: Step) => Promise<void>;

/** Loads the interaction and the sign-in it continues, reads the form's CSRF token, runs `handler`. */
function withStep(deps: MfaDeps, handler: StepHandler, json = false) {
  return async (ctx: Context) => {
    const refuse = (page: typeof EXPIRED_PAGE) => {
      if (!json) return sendErrorPage(ctx, page);
      ctx.status = page.status;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: page.code };
    };
    const found = await loadInteraction(deps.provider(), ctx, String((ctx.params as { uid?: string }).uid ?? ''));
    if (!found.ok) return refuse(EXPIRED_PAGE);
    const step = stepOf(ctx, found.interaction);
    if (!step) return refuse(EXPIRED_PAGE);
    try {
      await handler(ctx, deps, step);
    } catch (error) {
      if (error instanceof FormError) return refuse(FORM_UNREADABLE_PAGE);
      throw error;
    }
  };
}

/** Reads a form and checks its CSRF token; undefined (and the refusal page sent) when it fails. */
async function formOf<S extends z.ZodType>(ctx: Context, deps: MfaDeps, step: Step, schema: S): Promise<z.output<S> | undefined> {
  const form = await readForm(ctx, schema);
  const { uid } = step.interaction;
  if (!deps.csrf.verify(`mfa-${uid}`, uid, (form as { csrf?: string }).csrf)) {
    sendErrorPage(ctx, CSRF_PAGE);
    return undefined;
  }
  return form;
}

async function afterAttempt(ctx: Context, deps: MfaDeps, step: Step, outcome: AttemptOutcome, method: SecondFactorMethod): Promise<void> {
  if (!outcome.ok) return showStep(ctx, deps, step, { error: outcome.message, status: outcome.status });
  return finishWith(ctx, deps, step, method);
}

const submitTotp: StepHandler = async (ctx, deps, step) => {
  const form = await formOf(ctx, deps, step, codeForm);
  if (!form) return;
  const code = form.code.replace(/\s/g, '');
  const { accountId } = step.pending;
  const outcome = await secondFactorAttempt(ctx, deps, { userId: accountId, clientId: step.interaction.params.client_id, factor: 'totp', stepUp: step.stepUp }, () =>
    verifyTotp(deps.prisma, deps.kek, accountId, code),
  );
  return afterAttempt(ctx, deps, step, outcome, 'otp');
};

const submitRecoveryCode: StepHandler = async (ctx, deps, step) => {
  const form = await formOf(ctx, deps, step, codeForm);
  if (!form) return;
  const { accountId } = step.pending;
  let remaining = 0;
  const outcome = await secondFactorAttempt(ctx, deps, { userId: accountId, clientId: step.interaction.params.client_id, factor: 'recovery_code', stepUp: step.stepUp }, async () => {
    const used = await useRecoveryCode(deps.prisma, accountId, form.code);
    if (used.ok) remaining = used.remaining;
    return used.ok;
  });
  if (!outcome.ok) return showStep(ctx, deps, step, { error: outcome.message === WRONG_CODE ? 'That recovery code is not right, or was used already.' : outcome.message, status: outcome.status });
  await deps.audit({ type: 'mfa.recovery_code_used', outcome: 'success', subject: accountId, clientId: step.interaction.params.client_id, ip: ctx.ip, details: { remaining } });
  // The person is told how many are left before going on (a page, then the same finish).
  const { uid } = step.interaction;
  setPending(ctx, uid, { ...step.pending, enrolled: 'otp' }, deps.config.ttl.interaction);
  sendPage(
    ctx,
    'mfa-recovery-used',
    { title: 'Recovery code used', remaining, continueAction: pathOf(uid, 'mfa/continue'), csrf: deps.csrf.token(`mfa-${uid}`, uid) },
    { formTargets: [step.interaction.params.redirect_uri] },
  );
};

const passkeyOptions: StepHandler = async (ctx, deps, step) => {
  const form = await readForm(ctx, csrfForm);
  const { uid } = step.interaction;
  if (!deps.csrf.verify(`mfa-${uid}`, uid, form.csrf)) {
    ctx.status = 403;
    ctx.body = { error: 'csrf_check_failed' };
    return;
  }
  ctx.set('Cache-Control', 'no-store');
  ctx.body = await authenticationOptions(deps.prisma, deps.rp, 'second-factor', `interaction:${uid}`, step.pending.accountId);
};

const submitPasskey: StepHandler = async (ctx, deps, step) => {
  const form = await formOf(ctx, deps, step, credentialForm);
  if (!form) return;
  if (!form.credential) return showStep(ctx, deps, step, { error: NEEDS_SCRIPT, status: 400 });
  const { accountId } = step.pending;
  let method: SecondFactorMethod = 'hwk';
  const outcome = await secondFactorAttempt(ctx, deps, { userId: accountId, clientId: step.interaction.params.client_id, factor: 'passkey', stepUp: step.stepUp }, async () => {
    const result = await verifyPasskey(deps.prisma, deps.rp, 'second-factor', `interaction:${step.interaction.uid}`, accountId, form.credential);
    if (result.ok) method = result.method;
    return result.ok;
  });
  return afterAttempt(ctx, deps, step, outcome, method);
};

/** Enrolment during sign-in is offered only to a person who has no factor yet. */
async function mayEnrol(deps: MfaDeps, step: Step): Promise<boolean> {
  return !(await hasSecondFactor(deps.prisma, step.pending.accountId));
}

async function enrolled(ctx: Context, deps: MfaDeps, step: Step, method: SecondFactorMethod, factor: string): Promise<void> {
  const { accountId } = step.pending;
  await deps.audit({ type: 'mfa.enrolled', outcome: 'success', subject: accountId, clientId: step.interaction.params.client_id, ip: ctx.ip, details: { factor, during: 'sign_in' } });
  const codes = await generateRecoveryCodes(deps.prisma, accountId);
  await deps.audit({ type: 'mfa.recovery_codes_generated', outcome: 'success', subject: accountId, ip: ctx.ip, details: { count: codes.length } });
  setPending(ctx, step.interaction.uid, { ...step.pending, enrolled: method }, deps.config.ttl.interaction);
  return showRecoveryCodes(ctx, deps, step, codes);
}

const submitTotpEnrolment: StepHandler = async (ctx, deps, step) => {
  const form = await formOf(ctx, deps, step, enrolTotpForm);
  if (!form) return;
  if (!(await mayEnrol(deps, step))) return showStep(ctx, deps, step);
  const { accountId } = step.pending;
  const code = form.code.replace(/\s/g, '');
  const outcome = await secondFactorAttempt(ctx, deps, { userId: accountId, clientId: step.interaction.params.client_id, factor: 'totp', stepUp: step.stepUp }, () =>
    confirmTotp(deps.prisma, deps.kek, accountId, form.enrolment, code),
  );
  if (!outcome.ok) return showStep(ctx, deps, step, { error: outcome.message, status: outcome.status, enrolment: form.enrolment });
  return enrolled(ctx, deps, step, 'otp', 'totp');
};

const enrolPasskeyOptions: StepHandler = async (ctx, deps, step) => {
  const form = await readForm(ctx, csrfForm);
  const { uid } = step.interaction;
  const user = await getUserById(deps.prisma, step.pending.accountId);
  if (!deps.csrf.verify(`mfa-${uid}`, uid, form.csrf) || !user || !(await mayEnrol(deps, step))) {
    ctx.status = 403;
    ctx.body = { error: 'not_allowed' };
    return;
  }
  ctx.set('Cache-Control', 'no-store');
  ctx.body = await registrationOptions(deps.prisma, deps.rp, { id: user.id, email: user.email, name: user.name }, `interaction:${uid}`);
};

const submitPasskeyEnrolment: StepHandler = async (ctx, deps, step) => {
  const form = await formOf(ctx, deps, step, enrolPasskeyForm);
  if (!form) return;
  if (!(await mayEnrol(deps, step))) return showStep(ctx, deps, step);
  if (!form.credential) return showStep(ctx, deps, step, { error: NEEDS_SCRIPT, status: 400 });
  const registered = await registerPasskey(deps.prisma, deps.rp, step.pending.accountId, `interaction:${step.interaction.uid}`, form.credential, form.name);
  if (!registered) return showStep(ctx, deps, step, { error: 'The passkey could not be registered. Try again.', status: 400 });
  return enrolled(ctx, deps, step, registered.method, 'passkey');
};

const submitContinue: StepHandler = async (ctx, deps, step) => {
  const form = await formOf(ctx, deps, step, csrfForm);
  if (!form) return;
  const method = step.pending.enrolled;
  if (!method) return showStep(ctx, deps, step);
  return finishWith(ctx, deps, step, method);
};

// Passwordless: the passkey names the person; it stands for both factors with user verification.
async function withLoginInteraction(ctx: Context, deps: MfaDeps): Promise<LoadedInteraction | undefined> {
  const found = await loadInteraction(deps.provider(), ctx, String((ctx.params as { uid?: string }).uid ?? ''));
  if (!found.ok || found.interaction.prompt.name !== 'login') return undefined;
  return found.interaction;
}

function passwordlessOptions(deps: MfaDeps) {
  return async (ctx: Context) => {
    const interaction = await withLoginInteraction(ctx, deps);
    const form = interaction ? await readForm(ctx, csrfForm).catch(() => undefined) : undefined;
    if (!interaction || !form || !deps.csrf.verify('mfa-passwordless', interaction.uid, form.csrf)) {
      ctx.status = 403;
      ctx.body = { error: 'not_allowed' };
      return;
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await authenticationOptions(deps.prisma, deps.rp, 'passwordless', `interaction:${interaction.uid}`, null);
  };
}

function submitPasswordless(deps: MfaDeps) {
  return async (ctx: Context) => {
    const interaction = await withLoginInteraction(ctx, deps);
    if (!interaction) return sendErrorPage(ctx, EXPIRED_PAGE);
    let form;
    try {
      form = await readForm(ctx, credentialForm);
    } catch (error) {
      if (error instanceof FormError) return sendErrorPage(ctx, FORM_UNREADABLE_PAGE);
      throw error;
    }
    if (!deps.csrf.verify('mfa-passwordless', interaction.uid, form.csrf)) return sendErrorPage(ctx, CSRF_PAGE);
    if (!form.credential) {
      return sendErrorPage(ctx, { status: 400, title: 'Passkeys need JavaScript', message: `${NEEDS_SCRIPT} Go back and sign in with your email and password.`, code: 'passkey_needs_script' });
    }
    const clientId = interaction.params.client_id;
    // A failed assertion spends the address's sign-in budget; it names no account to lock.
    const ipKey = clientAddressKey(ctx.ip);
    const byIp = await deps.loginLimiter.consume(ipKey);
    if (!byIp.allowed) return sendErrorPage(ctx, { status: 429, title: 'Too many attempts', message: 'Too many failed sign-in attempts from your network. Try again later.', code: 'rate_limited' });
    const result = await verifyPasskey(deps.prisma, deps.rp, 'passwordless', `interaction:${interaction.uid}`, null, form.credential);
    const user = result.ok ? await getUserById(deps.prisma, result.userId) : undefined;
    if (!result.ok || !user || user.disabled || user.locked_until) {
      await deps.audit({ type: 'login.failure', outcome: 'failure', subject: result.userId, clientId, ip: ctx.ip, details: { method: 'passkey', reason: !result.ok ? 'passkey_refused' : 'account_unavailable' } });
      return sendErrorPage(ctx, { status: 400, title: 'The passkey did not work', message: 'Go back and try again, or sign in with your email and password.', code: 'passkey_refused' });
    }
    await deps.loginLimiter.refund(ipKey);
    await deps.audit({ type: 'login.success', outcome: 'success', subject: user.id, clientId, ip: ctx.ip, details: { method: 'passkey' } });
    const amr = withSecondFactor([], result.method);
    await finishInteraction(deps.provider(), ctx, { login: { accountId: user.id, amr, acr: MFA_ACR, remember: true } });
  };
}

export function secondFactorRoutes(deps: MfaDeps): Router {
  const router = new Router({ prefix: INTERACTION_PATH });
  if (deps.config.mfa === 'off') return router;
  router.get('/:uid/mfa', withStep(deps, (ctx, d, step) => showStep(ctx, d, step)));
  router.post('/:uid/mfa/totp', withStep(deps, submitTotp));
  router.post('/:uid/mfa/recovery', withStep(deps, submitRecoveryCode));
  router.post('/:uid/mfa/passkey-options', withStep(deps, passkeyOptions, true));
  router.post('/:uid/mfa/passkey', withStep(deps, submitPasskey));
  router.post('/:uid/mfa/enrol-totp', withStep(deps, submitTotpEnrolment));
  router.post('/:uid/mfa/enrol-passkey-options', withStep(deps, enrolPasskeyOptions, true));
  router.post('/:uid/mfa/enrol-passkey', withStep(deps, submitPasskeyEnrolment));
  router.post('/:uid/mfa/continue', withStep(deps, submitContinue));
  router.post('/:uid/passkey-options', passwordlessOptions(deps));
  router.post('/:uid/passkey', submitPasswordless(deps));
  return router;
}

/** What the second factor adds to src/sign-in: the decision after the password, the step-up page, the passkey button. */
export function secondFactorSignIn(deps: MfaDeps): SignInExtension {
  const need = (interaction: LoadedInteraction, userId: string) =>
    secondFactorNeed(deps, { userId, clientId: interaction.params.client_id, acrValues: typeof interaction.params.acr_values === 'string' ? interaction.params.acr_values : undefined });
  return {
    stepFollowsPassword: async (interaction, userId) => (await need(interaction, userId)) !== 'none',
    async afterPassword(ctx, interaction, userId, stepFollows) {
      if (!stepFollows) {
        await finishInteraction(deps.provider(), ctx, { login: { accountId: userId, amr: ['pwd'], acr: SINGLE_FACTOR_ACR, remember: true } });
        return;
      }
      setPending(ctx, interaction.uid, { accountId: userId, amr: ['pwd'] }, deps.config.ttl.interaction);
      ctx.status = 303;
      ctx.redirect(pathOf(interaction.uid, 'mfa'));
    },
    loginVariant: {
      matches: (interaction) => deps.config.mfa !== 'off' && isStepUp(interaction),
      show: async (ctx, _signIn, interaction) => {
        const step = stepOf(ctx, interaction);
        if (!step) return sendErrorPage(ctx, EXPIRED_PAGE);
        return showStep(ctx, deps, step);
      },
    },
    loginPage: (interaction) =>
      deps.config.mfa === 'off'
        ? { data: {}, scripts: false }
        : {
            data: {
              passkeyAction: pathOf(interaction.uid, 'passkey'),
              passkeyOptions: pathOf(interaction.uid, 'passkey-options'),
              passkeyCsrf: deps.csrf.token('mfa-passwordless', interaction.uid),
            },
            scripts: true,
          },
  };
}

