// A small cookie jar for driving the browser-facing endpoints with fetch: it keeps what
// Set-Cookie says (name, path, expiry; one host per jar) and sends back the cookies whose path
// matches a request (RFC 6265 §5.1.4). Redirects are never followed automatically, so every
// hop can be asserted on.
type StoredCookie = { name: string; value: string; path: string; expiresAt: number | null };

function defaultPath(url: URL): string {
  // RFC 6265 §5.1.4: the directory of the request path.
  const slash = url.pathname.lastIndexOf('/');
  return slash > 0 ? url.pathname.slice(0, slash) : '/';
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

export class CookieJar {
  readonly #cookies = new Map<string, StoredCookie>();

  store(url: URL, setCookieHeaders: string[]): void {
    for (const header of setCookieHeaders) {
      const [pair = '', ...attributes] = header.split(';').map((part) => part.trim());
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const cookie: StoredCookie = { name: pair.slice(0, eq), value: pair.slice(eq + 1), path: defaultPath(url), expiresAt: null };
      for (const attribute of attributes) {
        const [key = '', value = ''] = attribute.split('=');
        const name = key.toLowerCase();
        if (name === 'path' && value.startsWith('/')) cookie.path = value;
        if (name === 'max-age') cookie.expiresAt = Date.now() + Number(value) * 1000;
        if (name === 'expires' && cookie.expiresAt === null) cookie.expiresAt = Date.parse(value);
      }
      const key = `${cookie.name};${cookie.path}`;
      if (cookie.expiresAt !== null && cookie.expiresAt <= Date.now()) this.#cookies.delete(key);
      else this.#cookies.set(key, cookie);
    }
  }

  header(url: URL): string {
    const now = Date.now();
    return [...this.#cookies.values()]
      .filter((c) => (c.expiresAt === null || c.expiresAt > now) && pathMatches(url.pathname, c.path))
      // RFC 6265 §5.4: longer paths first.
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  names(): string[] {
    return [...this.#cookies.values()].map((c) => c.name);
  }

  /** fetch with this jar's cookies, never following redirects. */
  async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const url = new URL(input);
    const headers = new Headers(init.headers);
    const cookie = this.header(url);
    if (cookie) headers.set('cookie', cookie);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.store(url, res.headers.getSetCookie());
    return res;
  }
}
