// The interaction a page or form post belongs to, as oidc-provider stored it, checked and typed.
// oidc-provider finds it through the interaction cookie (signed, scoped to /interaction/<uid>);
// the uid in the URL must name the same interaction, so a form cannot be replayed against
// another person's sign-in, and stored values are read through zod rather than trusted as `any`.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { z } from 'zod';

/** oidc-provider's uids are 21-character nanoids; anything else is not one of ours. */
const interactionUidSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

const paramsSchema = z.looseObject({
  client_id: z.string().min(1),
  redirect_uri: z.string().optional(),
  scope: z.string().optional(),
  login_hint: z.string().optional(),
});

const promptSchema = z.object({
  name: z.string(),
  reasons: z.array(z.string()).default([]),
  details: z
    .looseObject({
      missingOIDCScope: z.array(z.string()).optional(),
      missingOIDCClaims: z.array(z.string()).optional(),
      missingResourceScopes: z.record(z.string(), z.array(z.string())).optional(),
    })
    .default({}),
});

type InteractionPrompt = z.infer<typeof promptSchema>;

export type LoadedInteraction = {
  uid: string;
  prompt: InteractionPrompt;
  params: z.infer<typeof paramsSchema>;
  /** The account already signed in to this session, if any. */
  accountId: string | undefined;
  /** How the session's person signed in (RFC 8176 amr), if anyone did. */
  sessionAmr: string[] | undefined;
  /** The grant this session already holds for the client, if any. */
  grantId: string | undefined;
  /** True when the person signed in during this same authorization request. */
  signedInJustNow: boolean;
};

export type InteractionLookup = { ok: true; interaction: LoadedInteraction } | { ok: false };

export async function loadInteraction(provider: Provider, ctx: Context, uid: string): Promise<InteractionLookup> {
  if (!interactionUidSchema.safeParse(uid).success) return { ok: false };
  let stored;
  try {
    stored = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (error) {
    // No cookie, an expired interaction, or a session that changed under it.
    if (error instanceof errors.SessionNotFound) return { ok: false };
    throw error;
  }
  if (stored.uid !== uid) return { ok: false };
  const params = paramsSchema.safeParse(stored.params);
  const prompt = promptSchema.safeParse(stored.prompt);
  if (!params.success || !prompt.success) return { ok: false };
  const lastLogin = (stored.lastSubmission)?.login;
  return {
    ok: true,
    interaction: {
      uid: stored.uid,
      prompt: prompt.data,
      params: params.data,
      accountId: stored.session?.accountId,
      sessionAmr: z.array(z.string()).optional().catch(undefined).parse((stored.session as { amr?: unknown } | undefined)?.amr),
      grantId: stored.grantId,
      signedInJustNow: typeof lastLogin?.accountId === 'string',
    },
  };
}

/**
 * Records the outcome of an interaction and answers with a 303 to where oidc-provider resumes
 * the authorization request (RFC 9700 §4.12: 303, never 307, so the browser does not re-send
 * the POST, password included).
 */
export async function finishInteraction(provider: Provider, ctx: Context, result: InteractionResults): Promise<void> {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
  ctx.status = 303;
  ctx.redirect(returnTo);
}
