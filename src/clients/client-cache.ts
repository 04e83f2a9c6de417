// Per-process caches on the token endpoint's hot path (CLIENT_CACHE_TTL): the client metadata
// oidc-provider looks up on every request naming a client, and successful client-secret checks.
// Profiling the client-credentials benchmark showed the database round trips of these two
// look-ups (through Prisma's query interpreter) as the largest cost per token request.
//
// Invalidation is by time only: an instance learns that a client was disabled, changed or deleted,
// or that a secret was rotated away or expired, at most CLIENT_CACHE_TTL later. That is the
// documented bound, the same on every instance, and needs no cross-instance messaging. A
// secret's own expiry (rotation overlap) is honoured exactly: a cached success never outlives it.
// Only positive results are cached: an unknown client or a wrong secret goes to the database each
// time, so a newly created client or secret works at once. 0 turns both caches off.
import { createHash } from 'node:crypto';
import type { Db } from '../db/client.js';
import type { ClientLookup } from '../db/oidc-adapter.js';
import { looksLikeClientSecret, secretsValidAt, verifyClientSecret } from './secrets.js';

/** Enough for every client of a large deployment; beyond it the oldest entries go first. */
const MAX_ENTRIES = 10_000;

type Entry<V> = { value: V; expiresAt: number };

/**
 * Every caller is handed the same metadata object, frozen: oidc-provider only reads it (it
 * hashes it to find its own client instance, lib/models/client.js), and an attempt to change it
 * would throw rather than alter what other requests see. A copy per request (structuredClone)
 * was 2 % of the main thread's time in the introspection benchmark.
 */
function deepFreeze<V>(value: V): V {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}

function boundedSet<V>(map: Map<string, Entry<V>>, key: string, entry: Entry<V>): void {
  map.delete(key);
  if (map.size >= MAX_ENTRIES) map.delete(map.keys().next().value!);
  map.set(key, entry);
}

/**
 * Wraps a client look-up: a found client is served from memory for `ttlSeconds`; concurrent
 * look-ups of one client while it is being read share that one query.
 */
export function cachedClientLookup(lookup: ClientLookup, ttlSeconds: number, now = Date.now): ClientLookup {
  if (ttlSeconds <= 0) return lookup;
  const cache = new Map<string, Entry<Awaited<ReturnType<ClientLookup>>>>();
  const inFlight = new Map<string, ReturnType<ClientLookup>>();
  return async (clientId) => {
    const hit = cache.get(clientId);
    if (hit && hit.expiresAt > now()) return hit.value;
    let pending = inFlight.get(clientId);
    if (!pending) {
      pending = lookup(clientId).finally(() => inFlight.delete(clientId));
      inFlight.set(clientId, pending);
      const value = await pending;
      if (value) boundedSet(cache, clientId, { value: deepFreeze(value), expiresAt: now() + ttlSeconds * 1000 });
      else cache.delete(clientId);
    }
    return pending;
  };
}

export type ClientSecretCheck = (clientId: string, presented: string) => Promise<boolean>;

/**
 * Checks a presented secret against the client's unexpired stored hashes; a success is remembered
 * for `ttlSeconds` (never past the matching secret's expiry), keyed by a SHA-256 of client and
 * secret so no plaintext secret is kept.
 */
export function cachedClientSecretCheck(prisma: Db, ttlSeconds: number, now = Date.now): ClientSecretCheck {
  const cache = new Map<string, Entry<true>>();
  return async (clientId, presented) => {
    // Our secrets have one exact shape; anything else cannot match and costs no query.
    if (!looksLikeClientSecret(presented)) return false;
    const key = createHash('sha256').update(clientId).update('\0').update(presented).digest('base64url');
    const hit = cache.get(key);
    if (hit && hit.expiresAt > now()) return true;
    const at = now();
    const rows = await prisma.clientSecret.findMany({
      where: { clientId, ...secretsValidAt(new Date(at)) },
      select: { hash: true, expiresAt: true },
    });
    const matched = rows.filter((r) => verifyClientSecret(presented, [r.hash]));
    if (matched.length === 0) {
      cache.delete(key);
      return false;
    }
    if (ttlSeconds > 0) {
      const secretExpiry = Math.min(...matched.map((r) => r.expiresAt?.getTime() ?? Infinity));
      boundedSet(cache, key, { value: true, expiresAt: Math.min(at + ttlSeconds * 1000, secretExpiry) });
    }
    return true;
  };
}
