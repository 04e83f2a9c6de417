// What an application asks for, in words a person can decide on (consent page).
import type { Db } from '../db/client.js';

export type PermissionLine = { title: string; detail: string };

const OIDC_SCOPE_WORDS: Record<string, PermissionLine> = {
  openid: { title: 'Confirm who you are', detail: 'Sign you in with your Gatehouse account.' },
  profile: { title: 'See your name', detail: 'The name on your account.' },
  email: { title: 'See your email address', detail: 'Your email address and whether it has been verified.' },
  offline_access: {
    title: 'Stay connected',
    detail: 'Keep the access you allow here even while you are not using the application or are signed out.',
  },
};

const CLAIM_WORDS: Record<string, string> = {
  name: 'your name',
  email: 'your email address',
  email_verified: 'whether your email address is verified',
};

export type RequestedPermissions = {
  missingOIDCScope?: string[] | undefined;
  missingOIDCClaims?: string[] | undefined;
  missingResourceScopes?: Record<string, string[]> | undefined;
};

/** One line per newly requested permission, in a stable order (openid first). */
export async function describePermissions(prisma: Db, requested: RequestedPermissions): Promise<PermissionLine[]> {
  const lines: PermissionLine[] = [];
  const scopes = requested.missingOIDCScope ?? [];
  for (const scope of Object.keys(OIDC_SCOPE_WORDS)) {
    if (scopes.includes(scope)) lines.push(OIDC_SCOPE_WORDS[scope]!);
  }
  for (const scope of scopes) {
    if (!OIDC_SCOPE_WORDS[scope]) lines.push({ title: `Use the permission “${scope}”`, detail: 'A permission this application registered.' });
  }
  const claims = (requested.missingOIDCClaims ?? []).map((claim) => CLAIM_WORDS[claim] ?? claim);
  if (claims.length) lines.push({ title: 'See details of your account', detail: `Specifically: ${claims.join(', ')}.` });

  const resources = Object.entries(requested.missingResourceScopes ?? {}).filter(([, list]) => list.length > 0);
  if (resources.length) {
    const apis = await prisma.api.findMany({ where: { identifier: { in: resources.map(([identifier]) => identifier) } } });
    const byIdentifier = new Map(apis.map((api) => [api.identifier, api]));
    for (const [identifier, list] of resources) {
      lines.push({
        title: `Use ${byIdentifier.get(identifier)?.name ?? identifier} on your behalf`,
        detail: `With these permissions: ${list.join(', ')}.`,
      });
    }
  }
  return lines;
}
