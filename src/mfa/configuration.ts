// The provider settings of the second factor: the ACR values in discovery
// (acr_values_supported, OpenID Connect Discovery §3) and one more check on the login prompt,
// so that a person already signed in is asked for a second factor (a step-up) whenever the
// policy wants one and the session has not reached the MFA level: acr_values naming it, a client
// that requires it, or a person who has a factor but signed in without it (an upstream login).
// max_age (Core §3.1.2.1) stays oidc-provider's own check: a fresh sign-in, password first.
import type { KoaContextWithOIDC } from 'oidc-provider';
import { interactionPolicy } from 'oidc-provider';
import type { Feature, FeatureDependencies } from '../oidc/feature.js';
import { ACR_VALUES, MFA_ACR } from './acr.js';
import { secondFactorNeed } from './policy.js';

/** The reason the login prompt gives for a step-up; the sign-in pages show the second-factor page for it. */
export const STEP_UP_REASON = 'mfa_required';

export function mfaFeature({ sql, config }: FeatureDependencies): Feature {
  // prompt=none gets login_required (OpenID Connect Core §3.1.2.6: authentication is needed).
  const stepUp = new interactionPolicy.Check(STEP_UP_REASON, 'a second factor is required', 'login_required', async (ctx: KoaContextWithOIDC) => {
      const { session, params, client } = ctx.oidc;
      // No session: no_session asks for a sign-in, which leads to the second factor itself.
      if (!session?.accountId || !client) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      if (session.acr === MFA_ACR) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      const acrValues = typeof params?.acr_values === 'string' ? params.acr_values : undefined;
      const need = await secondFactorNeed({ sql, config }, { userId: session.accountId, clientId: client.clientId, acrValues });
      return need === 'none' ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
    },
  );
  return { name: 'second factor', configuration: { acrValues: [...ACR_VALUES] }, promptChecks: [{ prompt: 'login', check: stepUp }] };
}
