// RP-initiated logout pages (OpenID Connect RP-Initiated Logout 1.0), rendered for
// oidc-provider's end_session endpoint: the confirmation (§2: the OP SHOULD ask the End-User
// whether to log out of the OP as well) and the page shown when no post_logout_redirect_uri was
// given. The form posts to oidc-provider's end_session_confirm with its own CSRF token (`xsrf`,
// a per-session secret it checks in constant time). oidc-provider has validated
// post_logout_redirect_uri against the client's registered list before this page is rendered.
import type { KoaContextWithOIDC } from 'oidc-provider';
import { getUserById } from '../accounts/users.js';
import type { Db } from '../db/client.js';
import { sendPage } from '../pages/pages.js';

function clientNameOf(ctx: KoaContextWithOIDC): string | null {
  const client = ctx.oidc.client;
  return client ? (client.clientName ?? client.clientId) : null;
}

export function logoutPages(prisma: Db) {
  return {
    logoutSource: async (ctx: KoaContextWithOIDC): Promise<void> => {
      const { session } = ctx.oidc;
      const secret = session?.state?.secret;
      const user = session?.accountId ? await getUserById(prisma, session.accountId) : null;
      const postLogoutRedirectUri = typeof ctx.oidc.params?.post_logout_redirect_uri === 'string' ? ctx.oidc.params.post_logout_redirect_uri : undefined;
      sendPage(
        ctx,
        'logout',
        {
          title: 'Sign out',
          clientName: clientNameOf(ctx),
          userEmail: user?.email ?? null,
          action: ctx.oidc.urlFor('end_session_confirm'),
          xsrf: typeof secret === 'string' ? secret : '',
        },
        { formTargets: [postLogoutRedirectUri] },
      );
    },

    postLogoutSuccessSource: async (ctx: KoaContextWithOIDC): Promise<void> => {
      sendPage(ctx, 'logged-out', { title: 'Signed out', clientName: clientNameOf(ctx) });
    },
  };
}
