// Which OAuth error a refused replay answers. oidc-provider checks single use of client
// assertions and DPoP proofs through one model (ReplayDetection, keyed by
// sha256(iss || jti)); our adapter makes that check one conditional insert
// (src/db/replay-reservation.ts), so the refusal surfaces in the adapter, which does not know
// which of the two it was storing. The request being served tells: the client assertion it
// carries, if its key is the one refused.
import { errors } from 'oidc-provider';
import { currentContext, replayDetectionKey } from './provider-internals.js';

/** The replay key of a client assertion; undefined when it cannot be read. */
function assertionReplayKey(assertion: unknown): string | undefined {
  if (typeof assertion !== 'string') return undefined;
  try {
    const claims = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iss?: unknown; jti?: unknown };
    return typeof claims.iss === 'string' && typeof claims.jti === 'string' ? replayDetectionKey(claims.iss, claims.jti) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The error for a second use of the JWT whose replay key is `id`: invalid_client for a client
 * assertion (RFC 7523 §3 item 7, RFC 6749 §5.2), invalid_dpop_proof for a DPoP proof
 * (RFC 9449 §5 and §7.1: a replayed proof is an invalid proof).
 */
export function replayRefusal(id: string): Error {
  const ctx = currentContext();
  if (assertionReplayKey(ctx?.oidc?.params?.client_assertion) === id) {
    return new errors.InvalidClientAuth('client assertion tokens must only be used once');
  }
  if (ctx?.get('dpop')) return new errors.InvalidDpopProof('DPoP proof JWT Replay detected');
  return new errors.InvalidRequest('this JWT was already used');
}
