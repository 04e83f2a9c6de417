// OAuth requests over HTTP: form posts to the protocol endpoints and client_secret_basic.
import type { TestGatehouse } from './gatehouse.js';

export type OAuthResponse = { status: number; headers: Headers; body: Record<string, unknown> };

/** RFC 6749 §2.3.1: client_id and secret are form-urlencoded before Basic encoding. */
export function basicAuth(clientId: string, secret: string): string {
  const enc = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')}`;
}

export async function postForm(
  url: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<OAuthResponse> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  if (text) {
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { raw: text };
    }
  }
  return { status: res.status, headers: res.headers, body };
}

export function endpoints(gh: TestGatehouse) {
  const issuer = gh.config.issuer;
  return {
    token: `${issuer}/token`,
    introspection: `${issuer}/token/introspection`,
    revocation: `${issuer}/token/revocation`,
    jwks: `${issuer}/jwks`,
  };
}
