// Passkeys (WebAuthn Level 3) through @simplewebauthn/server. The relying party is the issuer:
// its host is the RP ID and its origin the only origin accepted (WebAuthn §7.1 step 9, §13.4.9).
// Every ceremony's challenge is stored and deleted when its answer arrives (single use, bound to
// what it was issued for: an interaction or a session), and expires after CHALLENGE_TTL.
// Registration asks for a discoverable credential (a passkey, usable without typing an email)
// and stores its counter and backup flags; authentication checks the counter moves forward
// where the authenticator keeps one (WebAuthn §6.1.1). Passwordless sign-in requires user
// verification (the passkey stands for two factors then); as a second factor presence is enough.
import { randomUUID } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { z } from 'zod';
import type { Db } from '../db/client.js';

const CHALLENGE_TTL_MS = 5 * 60 * 1000;

export type RelyingParty = { id: string; name: string; origin: string };

export function relyingPartyOf(issuer: string): RelyingParty {
  const url = new URL(issuer);
  return { id: url.hostname, name: 'Gatehouse', origin: url.origin };
}

type Purpose = 'register' | 'second-factor' | 'passwordless';

/** The browser's answer, as much of it as we read before the library checks it in full. */
const credentialJsonSchema = z.looseObject({
  id: z.string().min(1).max(1400),
  rawId: z.string().min(1).max(1400),
  type: z.literal('public-key'),
  response: z.looseObject({ clientDataJSON: z.string().min(1).max(4000) }),
  clientExtensionResults: z.looseObject({}).default({}),
});

const clientDataSchema = z.looseObject({ challenge: z.string().min(16).max(200) });

/** Parses the posted credential JSON; undefined when it is not one. */
function parseCredential(text: string): z.infer<typeof credentialJsonSchema> | undefined {
  try {
    const parsed = credentialJsonSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function challengeOf(credential: { response: { clientDataJSON: string } }): string | undefined {
  try {
    const clientData = clientDataSchema.safeParse(JSON.parse(Buffer.from(credential.response.clientDataJSON, 'base64url').toString('utf8')));
    return clientData.success ? clientData.data.challenge : undefined;
  } catch {
    return undefined;
  }
}

async function storeChallenge(prisma: Db, challenge: string, purpose: Purpose, binding: string, userId: string | null): Promise<void> {
  const now = new Date();
  // Expired challenges go as new ones are made: the table holds only the last few minutes' worth.
  await prisma.mfaWebAuthnChallenge.deleteMany({ where: { expiresAt: { lt: now } } });
  await prisma.mfaWebAuthnChallenge.create({ data: { challenge, purpose, binding, userId, expiresAt: new Date(now.getTime() + CHALLENGE_TTL_MS) } });
}

/** Deletes the challenge the answer names if it was issued for this purpose and binding; true for the one request that did. */
async function consumeChallenge(prisma: Db, challenge: string | undefined, purpose: Purpose, binding: string, userId: string | null): Promise<boolean> {
  if (!challenge) return false;
  const used = await prisma.mfaWebAuthnChallenge.deleteMany({ where: { challenge, purpose, binding, userId, expiresAt: { gt: new Date() } } });
  return used.count > 0;
}

const transportsOf = (stored: string) => (stored ? (stored.split(',') as AuthenticatorTransport[]) : undefined);

export async function registrationOptions(
  prisma: Db,
  rp: RelyingParty,
  user: { id: string; email: string; name: string | null },
  binding: string,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const existing = await prisma.mfaPasskey.findMany({ where: { userId: user.id } });
  const options = await generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: user.email,
    userDisplayName: user.name ?? user.email,
    // The user handle is the opaque user id (WebAuthn §14.6.1: no personal data in it).
    userID: new TextEncoder().encode(user.id),
    attestationType: 'none',
    excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: transportsOf(p.transports) })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
  });
  await storeChallenge(prisma, options.challenge, 'register', binding, user.id);
  return options;
}

export type RegisteredPasskey = { id: string; name: string; method: 'hwk' | 'swk' };

/** Verifies a registration answer and stores the passkey under `name`; undefined when refused. */
export async function registerPasskey(prisma: Db, rp: RelyingParty, userId: string, binding: string, credentialText: string, name: string): Promise<RegisteredPasskey | undefined> {
  const credential = parseCredential(credentialText);
  if (!credential || !(await consumeChallenge(prisma, challengeOf(credential), 'register', binding, userId))) return undefined;
  let verification;
  try {
    verification = await verifyRegistrationResponse({
      response: credential as unknown as RegistrationResponseJSON,
      expectedChallenge: challengeOf(credential)!,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: false,
    });
  } catch {
    return undefined;
  }
  if (!verification.verified) return undefined;
  const info = verification.registrationInfo;
  const id = randomUUID();
  try {
    await prisma.mfaPasskey.create({
      data: {
        id,
        userId,
        name,
        credentialId: info.credential.id,
        publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
        counter: BigInt(info.credential.counter),
        transports: (info.credential.transports ?? []).join(','),
        deviceType: info.credentialDeviceType,
        backedUp: info.credentialBackedUp,
      },
    });
  } catch {
    // The credential is registered already (unique credentialId).
    return undefined;
  }
  return { id, name, method: info.credentialBackedUp ? 'swk' : 'hwk' };
}

export async function authenticationOptions(prisma: Db, rp: RelyingParty, purpose: 'second-factor' | 'passwordless', binding: string, userId: string | null): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const allowed = userId ? await prisma.mfaPasskey.findMany({ where: { userId } }) : [];
  const options = await generateAuthenticationOptions({
    rpID: rp.id,
    // Passwordless: no list, the authenticator offers its discoverable credentials for this RP.
    allowCredentials: allowed.map((p) => ({ id: p.credentialId, transports: transportsOf(p.transports) })),
    userVerification: purpose === 'passwordless' ? 'required' : 'preferred',
  });
  await storeChallenge(prisma, options.challenge, purpose, binding, userId);
  return options;
}

export type PasskeyAssertion = { ok: true; userId: string; passkeyId: string; method: 'hwk' | 'swk' } | { ok: false; userId: string | null };

/**
 * Verifies an authentication answer. With `userId` (second factor) the credential must be that
 * person's; without (passwordless) the credential names the person and user verification is required.
 */
export async function verifyPasskey(prisma: Db, rp: RelyingParty, purpose: 'second-factor' | 'passwordless', binding: string, userId: string | null, credentialText: string): Promise<PasskeyAssertion> {
  const credential = parseCredential(credentialText);
  if (!credential) return { ok: false, userId };
  const stored = await prisma.mfaPasskey.findUnique({ where: { credentialId: credential.id } });
  const owner = stored?.userId ?? userId;
  if (!(await consumeChallenge(prisma, challengeOf(credential), purpose, binding, userId))) return { ok: false, userId: owner };
  if (!stored || (userId !== null && stored.userId !== userId)) return { ok: false, userId: owner };
  let verification;
  try {
    verification = await verifyAuthenticationResponse({
      response: credential as unknown as AuthenticationResponseJSON,
      expectedChallenge: challengeOf(credential)!,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      credential: {
        id: stored.credentialId,
        publicKey: new Uint8Array(Buffer.from(stored.publicKey, 'base64url')),
        counter: Number(stored.counter),
        transports: transportsOf(stored.transports),
      },
      requireUserVerification: purpose === 'passwordless',
    });
  } catch {
    return { ok: false, userId: owner };
  }
  if (!verification.verified) return { ok: false, userId: owner };
  const info = verification.authenticationInfo;
  // The counter moves by one conditional update: two uses of one signature cannot both pass.
  const updated = await prisma.mfaPasskey.updateMany({
    where: { id: stored.id, counter: stored.counter },
    data: { counter: BigInt(info.newCounter), backedUp: info.credentialBackedUp, deviceType: info.credentialDeviceType, lastUsedAt: new Date() },
  });
  if (updated.count === 0) return { ok: false, userId: owner };
  // RFC 8176: a synced passkey is a software-secured key, a device-bound one hardware-secured.
  return { ok: true, userId: stored.userId, passkeyId: stored.id, method: info.credentialBackedUp ? 'swk' : 'hwk' };
}

export async function listPasskeys(prisma: Db, userId: string) {
  return prisma.mfaPasskey.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } });
}

export async function removePasskey(prisma: Db, userId: string, id: string): Promise<boolean> {
  return (await prisma.mfaPasskey.deleteMany({ where: { id, userId } })).count > 0;
}

export async function hasPasskey(prisma: Db, userId: string): Promise<boolean> {
  return (await prisma.mfaPasskey.count({ where: { userId } })) > 0;
}
