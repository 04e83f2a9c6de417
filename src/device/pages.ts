// The browser side of the device flow that oidc-provider drives through its verification URI
// (`features.deviceFlow` hooks): the code-entry page, the pages that end it (success, denial,
// expired or used codes), rendered from our views in the sign-in look.
//
// The person's path: the entry page (verification_uri, or verification_uri_complete with the
// code filled in) posts the code together with oidc-provider's `confirm`, so a found code goes
// straight on to sign-in: the same login page when there is no session, then the confirmation
// naming the client and what it gets (confirmation.ts, the consent step of this flow),
// then the success page. The confirmation is never skipped (RFC 8628 §5.4: the person must see
// which client a code belongs to before approving it), which is why oidc-provider's own confirm
// page is not used: it would come before sign-in, and ask a second time.
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { FeatureDependencies } from '../oidc/feature.js';
import { personFacingMessage } from '../oidc/errors.js';
import { reRenderErrorName } from '../oidc/provider-internals.js';
import { displayUserCode, isWellFormedUserCode, normalizeUserCode } from './user-codes.js';
import { codeEntryAttempt, prefilledUserCode, USER_CODE_INPUT_MAX, waitMessage } from './code-entry.js';
import { sendPage } from '../pages/pages.js';

type ErrorOut = { error: string; error_description?: string };
type EntryView = { userCode?: string; error?: string; status?: number };
type FailurePage = { status: number; title: string; message: string; code: string; retry: boolean };

const EXPIRED: FailurePage = {
  status: 400,
  title: 'This code has expired',
  message: 'Codes are valid for a few minutes only. Start again on your device to get a new code.',
  code: 'expired_token',
  retry: true,
};

const ALREADY_USED: FailurePage = {
  status: 400,
  title: 'This code has already been used',
  message: 'Each code works once. If your device is not connected yet, start again on the device to get a new code.',
  code: 'code_already_used',
  retry: true,
};

const PAGE_EXPIRED: FailurePage = {
  status: 400,
  title: 'This page has expired',
  message: 'Connecting a device has to be finished within a limited time, in the browser where it started. Enter the code again, or start again on your device.',
  code: 'interaction_expired',
  retry: true,
};

const NO_CODE = 'Enter the code shown on your device.';
const WRONG_CODE = 'That code is not valid. Check the code shown on your device and try again.';
const MALFORMED_CODE = 'A code has 8 letters, like BCDF-GHJK. Check the code shown on your device and try again.';

function clientNameOf(ctx: KoaContextWithOIDC): string | null {
  const client = ctx.oidc.client;
  return client ? (client.clientName ?? client.clientId) : null;
}

/**
 * The client's name also where oidc-provider failed before loading the client (a denial comes
 * back from the confirmation step as an error of the resumed request): from the interaction.
 */
async function clientNameFor(ctx: KoaContextWithOIDC): Promise<string | null> {
  const known = clientNameOf(ctx);
  if (known) return known;
  const clientId: unknown = ctx.oidc.entities.Interaction?.params?.client_id;
  if (typeof clientId !== 'string') return null;
  const client = await ctx.oidc.provider.Client.find(clientId);
  return client ? (client.clientName ?? client.clientId) : null;
}

function sendEntryPage(ctx: KoaContextWithOIDC, view: EntryView): void {
  const secret: unknown = ctx.oidc.session?.state?.secret;
  sendPage(
    ctx,
    'device-code',
    {
      title: 'Connect a device',
      action: ctx.oidc.urlFor('code_verification'),
      // oidc-provider's CSRF token for this form: a per-session secret it compares in constant time.
      xsrf: typeof secret === 'string' ? secret : '',
      userCode: view.userCode ?? '',
      error: view.error,
    },
    { status: view.status ?? 200 },
  );
}

function sendFailure(ctx: KoaContextWithOIDC, page: FailurePage): void {
  sendPage(
    ctx,
    'device-failed',
    { title: page.title, message: page.message, code: page.code, retry: page.retry ? ctx.oidc.urlFor('code_verification') : null },
    { status: page.status },
  );
}

export function devicePages({ audit }: FeatureDependencies) {
  /** A code that matches no device code: counted against the budgets and audited (never the code itself). */
  async function wrongCode(ctx: KoaContextWithOIDC, typed: string): Promise<void> {
    const attempt = codeEntryAttempt(ctx);
    if (attempt) attempt.wrong = true;
    const wellFormed = isWellFormedUserCode(typed);
    await audit({
      type: 'device.code_invalid',
      outcome: 'failure',
      subject: ctx.oidc.session?.accountId ?? null,
      ip: ctx.ip,
      details: { reason: wellFormed ? 'unknown_code' : 'malformed_code' },
    });
    const exhausted = attempt !== undefined && attempt.limit.remaining === 0;
    const error = `${wellFormed ? WRONG_CODE : MALFORMED_CODE}${exhausted ? ` ${waitMessage(attempt.limit)}` : ''}`;
    sendEntryPage(ctx, { userCode: typed, error, status: 400 });
  }

  return {
    /** The entry page, and every outcome of the verification URI that is not a success. */
    userCodeInputSource: async (ctx: KoaContextWithOIDC, _form: string, out?: ErrorOut, err?: Error): Promise<void> => {
      if (!err) {
        const prefill = prefilledUserCode(ctx);
        return sendEntryPage(ctx, { userCode: prefill ? displayUserCode(prefill) : '' });
      }
      const typedRaw: unknown = (err as { userCode?: unknown }).userCode;
      const typed = typeof typedRaw === 'string' ? typedRaw.slice(0, USER_CODE_INPUT_MAX) : '';
      const entering = ctx.oidc.route === 'code_verification';
      // oidc-provider's re-render errors of the verification URI, known by name.
      switch (reRenderErrorName(err)) {
        case 'NoCodeError':
          return sendEntryPage(ctx, { error: NO_CODE, status: 400 });
        case 'NotFoundError':
          // Only spaces or punctuation: nothing was typed, so nothing was guessed.
          if (entering && normalizeUserCode(typed) === '') return sendEntryPage(ctx, { error: NO_CODE, status: 400 });
          // On the way back from sign-in, the code was found before: it has been removed since.
          return entering ? wrongCode(ctx, typed) : sendFailure(ctx, PAGE_EXPIRED);
        case 'ExpiredError':
          return sendFailure(ctx, EXPIRED);
        case 'AlreadyUsedError':
          return sendFailure(ctx, ALREADY_USED);
        case 'AbortedError': {
          const client = await clientNameFor(ctx);
          return sendFailure(ctx, {
            status: 200,
            title: 'Access denied',
            message: `${client ?? 'The device'} was not connected to your account. Your device will show that access was denied.`,
            code: 'access_denied',
            retry: false,
          });
        }
      }
      // A form post without a valid CSRF token or body (an old tab, cookies blocked): ask again.
      if (entering && out?.error === 'invalid_request') {
        return sendEntryPage(ctx, { userCode: typed, error: 'This page was out of date. Enter the code again.', status: 400 });
      }
      // Back from sign-in without the interaction's cookie, or after it expired.
      if (out?.error === 'invalid_request') return sendFailure(ctx, PAGE_EXPIRED);
      return sendFailure(ctx, {
        status: ctx.status >= 400 ? ctx.status : 400,
        title: 'Something went wrong',
        message: `${personFacingMessage(out?.error ?? 'server_error')} Start again on your device.`,
        code: out?.error ?? 'server_error',
        retry: false,
      });
    },

    /**
     * oidc-provider's own confirmation step, reached only by a post without `confirm` (our
     * entry form always sends it): the entry page again, with the code filled in.
     */
    userCodeConfirmSource: async (ctx: KoaContextWithOIDC, _form: string, _client: unknown, _deviceInfo: unknown, userCode: string): Promise<void> => {
      sendEntryPage(ctx, { userCode });
    },

    successSource: async (ctx: KoaContextWithOIDC): Promise<void> => {
      sendPage(ctx, 'device-done', { title: 'Device connected', clientName: clientNameOf(ctx) ?? 'Your device' });
    },
  };
}
