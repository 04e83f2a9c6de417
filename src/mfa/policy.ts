// When a sign-in needs a second factor. MFA=off: never. Otherwise a person who has a factor
// always uses it; a person without one enrols one when the sign-in requires a second factor:
// MFA=required, a client registered with require_mfa, or an authorization request whose
// acr_values names the MFA level (OpenID Connect Core §3.1.2.1; we honour it rather than treat it
// as voluntary, so that an application can rely on `acr` for a step-up).
import type { GatehouseConfig } from '../config.js';
import type { Db } from '../db/client.js';
import { MFA_ACR } from './acr.js';
import { hasSecondFactor } from './factors.js';

export type SecondFactorNeed = 'none' | 'challenge' | 'enrol';

export type SignInRequest = { userId: string; clientId: string; acrValues: string | undefined };

async function clientRequiresMfa(prisma: Db, clientId: string): Promise<boolean> {
  const client = await prisma.client.findUnique({ where: { id: clientId }, select: { requireMfa: true } });
  return client?.requireMfa ?? false;
}

function requestsMfa(acrValues: string | undefined): boolean {
  return (acrValues ?? '').split(' ').includes(MFA_ACR);
}

export async function secondFactorNeed(deps: { prisma: Db; config: Pick<GatehouseConfig, 'mfa'> }, request: SignInRequest): Promise<SecondFactorNeed> {
  if (deps.config.mfa === 'off') return 'none';
  if (await hasSecondFactor(deps.prisma, request.userId)) return 'challenge';
  const required = deps.config.mfa === 'required' || requestsMfa(request.acrValues) || (await clientRequiresMfa(deps.prisma, request.clientId));
  return required ? 'enrol' : 'none';
}
