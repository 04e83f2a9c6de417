// The account page (issue 20.5): who is signed in, their name, email and password, where they
// are signed in, and the applications they allowed. Reached through Gatehouse's own session
// cookie (signedInSession); every form on it carries a CSRF token bound to that session.
import type { Context } from 'koa';
import { getUserById, type UserView } from '../accounts/users.js';
import { signedInSession, type SignedInSession } from '../oidc/provider-internals.js';
import { listPersonSessions } from '../oidc/sessions.js';
import { listUserGrants } from '../oidc/user-grants.js';
import { sendPage } from '../pages/pages.js';
import type { AccountPageDeps } from './deps.js';

/** The forms of the page, each with its own CSRF token. */
const ACCOUNT_FORMS = ['name', 'password', 'email', 'verify', 'signOut', 'signOutOthers', 'revoke'] as const;
export type AccountForm = (typeof ACCOUNT_FORMS)[number];

export type SignedInPerson = { session: SignedInSession; user: UserView };

/** The person this browser's session belongs to; undefined when nobody (able to sign in) is. */
export async function signedInPerson(ctx: Context, deps: AccountPageDeps): Promise<SignedInPerson | undefined> {
  const session = await signedInSession(deps.provider(), ctx);
  if (!session) return undefined;
  const user = await getUserById(deps.prisma, session.accountId);
  if (!user || user.disabled) return undefined;
  return { session, user };
}

export function sendSignedOut(ctx: Context): void {
  sendPage(
    ctx,
    'notice',
    {
      title: 'You are not signed in',
      message: 'Your account page opens in a browser that is signed in to Gatehouse. Sign in to an application that uses Gatehouse, then come back here.',
      code: 'not_signed_in',
    },
    { status: 401 },
  );
}

/** What a finished change says at the top of the page (?done=…, after the 303). */
const NOTICES: Record<string, string> = {
  name: 'Your name is saved.',
  password: 'Your password is changed.',
  email: 'We sent a link to your new address. The change takes effect when you follow it.',
  verify: 'We sent a verification link to your address.',
  'signed-out': 'That session is signed out.',
  'signed-out-others': 'You are signed out everywhere else.',
  revoked: 'The application no longer has access to your account.',
};

const dateOf = (date: Date | null) => (date ? date.toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : 'at an unknown time');

export type AccountView = { errors?: Partial<Record<AccountForm, string>>; status?: number; done?: string };

export async function renderAccountPage(ctx: Context, deps: AccountPageDeps, person: SignedInPerson, view: AccountView = {}): Promise<void> {
  const { session, user } = person;
  const now = new Date();
  const [sessions, grants, pending] = await Promise.all([
    listPersonSessions(deps.prisma, user.id, now),
    listUserGrants(deps.prisma, user.id),
    deps.prisma.accountToken.findFirst({
      where: { userId: user.id, purpose: 'email_change', usedAt: null, expiresAt: { gt: now } },
      orderBy: { createdAt: 'desc' },
      select: { email: true },
    }),
  ]);
  const clientIds = [...new Set(grants.map((g) => g.clientId))];
  const clients = await deps.prisma.client.findMany({ where: { id: { in: clientIds } }, select: { id: true, name: true } });
  const names = new Map(clients.map((c) => [c.id, c.name]));
  const apps = clientIds.map((clientId) => {
    const ofClient = grants.filter((g) => g.clientId === clientId);
    const since = ofClient.reduce((a, g) => (g.createdAt < a ? g.createdAt : a), ofClient[0]!.createdAt);
    const lastUsed = ofClient.reduce((a, g) => (g.lastUsedAt > a ? g.lastUsedAt : a), ofClient[0]!.lastUsedAt);
    return { clientId, name: names.get(clientId) ?? clientId, since: dateOf(since), lastUsed: dateOf(lastUsed) };
  });
  const csrf = Object.fromEntries(ACCOUNT_FORMS.map((form) => [form, deps.csrf.token(`account-${form}`, session.id)]));
  sendPage(
    ctx,
    'account',
    {
      title: 'Your account',
      email: user.email,
      emailVerified: user.email_verified,
      name: user.name ?? '',
      pendingEmail: pending?.email ?? null,
      mailAvailable: deps.config.mailAvailable,
      notice: view.done ? NOTICES[view.done] : undefined,
      errors: view.errors ?? {},
      csrf,
      sessions: sessions.map((s) => ({ handle: s.handle, current: s.id === session.id, loginAt: dateOf(s.loginAt ?? s.createdAt) })),
      apps,
    },
    { status: view.status ?? 200 },
  );
}
