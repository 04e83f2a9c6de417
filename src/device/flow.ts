// The device authorization grant (RFC 8628) for clients allowed it (profile `device`, or any
// client with the device_code grant; oidc-provider answers unauthorized_client to the others).
//
//   POST /device/auth    device authorization endpoint (§3.1, §3.2): device_code, user_code
//                        XXXX-XXXX, verification_uri(_complete), expires_in, interval
//   GET  /device         verification URI (§3.3): the code-entry page
//   POST /device         a code entered: sign-in, then the confirmation (consent step)
//   GET  /device/:uid    back from sign-in or confirmation: success or failure page
//   POST /token          grant_type=urn:ietf:params:oauth:grant-type:device_code (§3.4, §3.5)
//
// oidc-provider implements the protocol; here are the policy and the parts it leaves open: the
// pages (src/device/pages.ts, confirmation.ts), a confirmation for every
// code, the limit on wrong user codes (src/device/code-entry.ts), and polling
// control with slow_down (device-polling.ts).
import type { Middleware } from 'koa';
import { interactionPolicy } from 'oidc-provider';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { CodeEntryLimiters } from './code-entry.js';
import { DEVICE_CONFIRMATION, type DeviceRequest } from './confirmation.js';
import { devicePages } from './pages.js';
import type { FeatureDependencies } from '../oidc/feature.js';
import { isGrantNotAllowedForClient } from '../oidc/provider-internals.js';
import { displayUserCode, USER_CODE_CHARSET, USER_CODE_MASK } from './user-codes.js';

const { Check, base } = interactionPolicy;

/** The routes of the verification URI, where a person acts on a device code. */
const DEVICE_USER_ROUTES = new Set(['code_verification', 'device_resume']);

/** Everything the device asked for and will get if approved: OpenID scopes, and each API's scopes. */
function deviceRequestOf(ctx: KoaContextWithOIDC): DeviceRequest {
  const requested = ctx.oidc.requestParamScopes;
  const resourceScopes: Record<string, string[]> = {};
  for (const [indicator, server] of Object.entries(ctx.oidc.resourceServers ?? {})) {
    const scopes = [...requested].filter((scope) => server.scopes.has(scope));
    if (scopes.length) resourceScopes[indicator] = scopes;
  }
  const userCode = ctx.oidc.deviceCode?.userCode;
  return {
    userCode: typeof userCode === 'string' ? displayUserCode(userCode) : '',
    oidcScopes: [...ctx.oidc.requestParamOIDCScopes],
    resourceScopes,
  };
}

/**
 * oidc-provider's default policy (login, then consent), with one more consent check: a device
 * code is never approved without the person confirming it in this request (RFC 8628 §5.4),
 * whatever earlier consent or first-party status would otherwise let through. The check is
 * satisfied once the confirmation step has submitted its consent result.
 */
function devicePolicy(): interactionPolicy.DefaultPolicy {
  const policy = base();
  const consent = policy.get('consent');
  if (!consent) throw new Error("oidc-provider's default policy has no consent prompt");
  consent.checks.add(
    new Check(
      DEVICE_CONFIRMATION,
      'the End-User confirms every device authorization',
      'consent_required',
      (ctx) => (DEVICE_USER_ROUTES.has(ctx.oidc.route) && !ctx.oidc.result?.consent ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT),
      (ctx) => ({ deviceRequest: deviceRequestOf(ctx) }),
    ),
  );
  return policy;
}

export function deviceFlowConfiguration(deps: FeatureDependencies): Partial<Configuration> {
  const pages = devicePages(deps);
  return {
    features: {
      deviceFlow: {
        enabled: true,
        charset: USER_CODE_CHARSET,
        mask: USER_CODE_MASK,
        userCodeInputSource: pages.userCodeInputSource,
        userCodeConfirmSource: pages.userCodeConfirmSource,
        successSource: pages.successSource,
      },
    },
    ttl: { DeviceCode: deps.config.device.codeTtlSeconds },
    interactions: { policy: devicePolicy() },
  };
}

/**
 * A client without the device_code grant asking for a device code: oidc-provider answers
 * invalid_request ("… is not allowed for this client"); RFC 6749 §5.2 (which RFC 8628 §3.2
 * refers to) names that case unauthorized_client.
 */
export function unauthorizedClientError(): Middleware {
  return async (ctx, next) => {
    await next();
    if ((ctx as KoaContextWithOIDC).oidc?.route !== 'device_authorization' || ctx.status !== 400) return;
    const body = ctx.body as { error?: unknown; error_description?: unknown } | undefined;
    if (body?.error === 'invalid_request' && isGrantNotAllowedForClient(body.error_description)) {
      ctx.body = { ...body, error: 'unauthorized_client' };
    }
  };
}

/**
 * The wrong-code budgets. Made once per process, not per provider: the provider is rebuilt when
 * signing keys change, and a rebuild must not hand an attacker fresh budgets.
 */
export function deviceCodeEntryLimiters({ limiterFor }: FeatureDependencies): CodeEntryLimiters {
  // The shared store (Redis when configured), so the budgets hold across instances.
  return { perIp: limiterFor('device-code-ip'), perSession: limiterFor('device-code-session') };
}
