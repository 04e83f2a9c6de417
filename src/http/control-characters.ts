// Control characters (C0 and DEL) in the request path, the query and urlencoded form bodies are
// refused at the boundary, before any handler sees them: PostgreSQL refuses NUL in text, so such
// a value reaching a query (a client_id, a token, an email, an interaction id) used to answer
// 500. No OAuth parameter may carry one (RFC 6749 Appendix A: VSCHAR and NQCHAR are printable
// characters), so a single rule covers every endpoint, ours and oidc-provider's, and also keeps
// them out of logs and audit rows. Answered with 400 in the endpoint's own format (problem.ts).
//
// The checks run on the raw, still percent-encoded text, so what is refused does not depend on
// which parser (ours, URLSearchParams; oidc-provider's, node:querystring) reads it later.
import type { IncomingMessage } from 'node:http';
import type { Context, Middleware } from 'koa';
import type { Endpoints } from './endpoints.js';
import { sendProblem } from './problem.js';

/** A C0 control or DEL, raw or percent-encoded. */
const CONTROL = /[\u0000-\u001f\u007f]|%(?:[01][0-9a-f]|7f)/i;
/** The same, except tab, line feed and carriage return (and `+`, a space, is never a control). */
const CONTROL_EXCEPT_WHITESPACE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]|%(?:0[0-8bcef]|1[0-9a-f]|7f)/i;

/**
 * Values that may legitimately hold tab and newline: JSON parameters (OpenID Connect Core §5.5
 * `claims`, RFC 9396 `authorization_details`), where they are insignificant whitespace; a
 * password, which is only ever hashed (an administrator may have set any characters in it); and
 * what a person types or pastes into our forms (an email, a device's user code), whose
 * surrounding whitespace the handlers trim.
 */
const WHITESPACE_ALLOWED = new Set(['claims', 'authorization_details', 'password', 'email', 'user_code']);

/**
 * The largest body any reader behind us accepts (oidc-provider's parser: 56 KiB). A longer one is
 * handed on unchecked for that reader to refuse (src/http/body-limit.ts says how).
 */
const READ_AHEAD_LIMIT = 56 * 1024;

function decodedName(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** The first offending pair of `name=value&...` text: the parameter's name, or null for a bad name. */
function offendingParameter(text: string): { name: string | null } | undefined {
  for (const pair of text.split('&')) {
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    if (CONTROL.test(rawName)) return { name: null };
    const name = decodedName(rawName) ?? rawName;
    const rule = WHITESPACE_ALLOWED.has(name) ? CONTROL_EXCEPT_WHITESPACE : CONTROL;
    if (rule.test(rawValue)) return { name };
  }
  return undefined;
}

/** `subject` names what held the character: "the scope parameter", "the path". */
function refuse(ctx: Context, endpoints: Endpoints, subject: string): void {
  sendProblem(ctx, endpoints.formatOf(ctx), {
    status: 400,
    error: 'invalid_request',
    description: `${subject} must not contain control characters`,
    page: { title: 'That did not work', message: 'The request contained characters that are not allowed. Go back and try again.' },
  });
}

/** Names are echoed only when plainly spelled; anything else is "a parameter". */
function subjectOf(name: string | null): string {
  if (name === null) return 'a parameter name';
  return /^[\w.-]{1,64}$/.test(name) ? `the ${name} parameter` : 'a parameter';
}

/**
 * Reads the body ahead (up to READ_AHEAD_LIMIT) and makes the request readable again from the
 * start, for whichever reader comes next: oidc-provider reads `req.iterator()` after checking
 * `req.readable`, our form reader iterates `req` (src/sign-in/form.ts). Returns the text
 * read, or undefined when the body is longer than the limit (then nothing is checked).
 */
async function readAhead(req: IncomingMessage): Promise<string | undefined> {
  const source = req.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
  const head: Buffer[] = [];
  let size = 0;
  let ended = false;
  while (size <= READ_AHEAD_LIMIT) {
    const next = await source.next();
    if (next.done) {
      ended = true;
      break;
    }
    head.push(next.value);
    size += next.value.length;
  }
  // A plain async generator per reader: a Readable around it (Readable.from) cost 3 % of the main
  // thread's time per form POST in the introspection benchmark. `readable` turns false once a
  // reader has started, as a consumed stream's does (oidc-provider checks it before reading).
  let started = false;
  async function* replay(): AsyncGenerator<Buffer> {
    started = true;
    yield* head;
    if (ended) return;
    for (let next = await source.next(); !next.done; next = await source.next()) yield next.value;
  }
  Object.defineProperties(req, {
    readable: { get: () => !started, configurable: true },
    iterator: { value: replay, configurable: true },
    [Symbol.asyncIterator]: { value: replay, configurable: true },
  });
  // latin1: every byte stays one character, so a raw control byte is seen as such.
  return ended ? Buffer.concat(head).toString('latin1') : undefined;
}

export function refuseControlCharacters(endpoints: Endpoints): Middleware {
  return async (ctx, next) => {
    // The path: an interaction id or any other segment (a raw control character cannot reach
    // here, HTTP's parser refuses it; a percent-encoded one can).
    if (CONTROL.test(ctx.path)) return refuse(ctx, endpoints, 'the path');
    const inQuery = offendingParameter(ctx.querystring);
    if (inQuery) return refuse(ctx, endpoints, subjectOf(inQuery.name));
    if (ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD' && ctx.is('application/x-www-form-urlencoded')) {
      const body = await readAhead(ctx.req);
      const inBody = body === undefined ? undefined : offendingParameter(body);
      if (inBody) return refuse(ctx, endpoints, subjectOf(inBody.name));
    }
    return next() as Promise<void>;
  };
}
