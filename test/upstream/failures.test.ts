// When an upstream says no, is down, or does not answer: a clear page with a way back to the
// sign-in page, an audit event, never a 500. The person cancelling at the upstream's own login
// page (a real Gatehouse answers access_denied), an upstream whose address refuses connections,
// one that accepts and never answers (UPSTREAM_TIMEOUT=1), and one disabled meanwhile.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createUpstream, updateUpstream } from '../../src/upstream/registry.js';
import { PROVIDERS } from '../support/databases.js';
import { freePort, startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { auditRows, authorizationUrl, formWithAction, PASSWORD, pkcePair, randomToken, registerClient, type TestClient } from '../support/signin.js';
import { addOidcUpstream, expectPageStop, KEK, startUpstreamGatehouse, TwoSiteBrowser, upstreamLinks, upstreamPerson } from './helpers.js';

describe.each(PROVIDERS)('upstream failures end on a clear page on %s', (provider) => {
  let broker: TestGatehouse;
  let upstream: TestGatehouse;
  let app: TestClient;
  let silent: Server;
  const held: Socket[] = [];
  beforeAll(async () => {
    [broker, upstream] = await Promise.all([startGatehouse(provider, { UPSTREAM_TIMEOUT: '1' }), startUpstreamGatehouse(provider)]);
    await addOidcUpstream(broker, upstream, 'corp', { display_name: 'Corp SSO', create_users: true });
    // Accepts connections and never answers.
    silent = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as { port: number }).port;
    const closedPort = await freePort();
    await createUpstream(broker.db.prisma, KEK, { id: 'down', kind: 'oidc', display_name: 'Down SSO', issuer: `http://127.0.0.1:${closedPort}`, client_id: 'x', client_secret: 'y' });
    await createUpstream(broker.db.prisma, KEK, { id: 'slow', kind: 'oidc', display_name: 'Slow SSO', issuer: `http://127.0.0.1:${silentPort}`, client_id: 'x', client_secret: 'y' });
    app = await registerClient(broker);
  });
  afterAll(async () => {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => silent?.close(resolve));
    await Promise.all([broker?.close(), upstream?.close()]);
  });

  const browserFor = () => new TwoSiteBrowser([new URL(broker.config.issuer).origin, new URL(upstream.config.issuer).origin]);

  async function choose(browser: TwoSiteBrowser, label: string) {
    const { challenge } = pkcePair();
    const login = expectPageStop(await browser.get(authorizationUrl(broker, { client: app, state: randomToken(), codeChallenge: challenge })));
    const href = upstreamLinks(login.html).get(label);
    if (!href) throw new Error(`no "Continue with ${label}"`);
    return { login, next: await browser.get(new URL(href, broker.config.issuer)) };
  }

  const backLink = (html: string) => /href="(\/interaction\/[^"]+)">Back to sign-in/.exec(html)?.[1];

  test('cancelled at the upstream: "Sign-in cancelled", and the way back to the sign-in page works', async () => {
    const browser = browserFor();
    const { login, next } = await choose(browser, 'Corp SSO');
    const atUpstream = expectPageStop(next);
    const cancel = formWithAction(atUpstream.html, '/abort');
    const page = expectPageStop(await browser.post(cancel.action, cancel.fields, atUpstream.url));
    expect(page.status).toBe(403);
    expect(page.html).toContain('Sign-in cancelled');
    expect(page.html).toContain('upstream_denied');
    const back = backLink(page.html);
    expect(back).toBe(new URL(login.url).pathname);
    const again = expectPageStop(await browser.get(new URL(back!, broker.config.issuer)));
    expect(again.html).toContain('Continue with Corp SSO');
    const [row] = (await auditRows(broker, 'upstream.login.failure')).filter((r) => (r.details as { reason?: string }).reason === 'denied');
    expect(row).toMatchObject({ clientId: app.clientId, details: expect.objectContaining({ upstream: 'corp', check: 'access_denied' }) });
  });

  test('an upstream that cannot be reached, and one that does not answer in time', async () => {
    const down = expectPageStop((await choose(browserFor(), 'Down SSO')).next);
    expect(down.status).toBe(502);
    expect(down.html).toContain('Down SSO cannot be reached');
    expect(backLink(down.html)).toBeDefined();

    const slow = expectPageStop((await choose(browserFor(), 'Slow SSO')).next);
    expect(slow.status).toBe(504);
    expect(slow.html).toContain('Slow SSO did not answer in time');
    const reasons = (await auditRows(broker, 'upstream.login.failure', {}, 2)).map((r) => (r.details as { upstream?: string; reason?: string }));
    expect(reasons).toEqual(expect.arrayContaining([expect.objectContaining({ upstream: 'down', reason: 'unreachable' }), expect.objectContaining({ upstream: 'slow', reason: 'timeout' })]));
  });

  test('an upstream disabled while the person was there: its answer is not used', async () => {
    const browser = browserFor();
    const atUpstream = expectPageStop((await choose(browser, 'Corp SSO')).next);
    await updateUpstream(broker.db.prisma, KEK, 'corp', { disabled: true });
    try {
      const form = formWithAction(atUpstream.html, '/login');
      const person = await upstreamPerson(upstream);
      const page = expectPageStop(await browser.post(form.action, { ...form.fields, email: person.email, password: PASSWORD }, atUpstream.url));
      expect(page.status).toBe(404);
      expect(page.html).toContain('upstream_unknown');
      expect(await broker.db.prisma.user.count({ where: { email: person.email } })).toBe(0);
      // Nor is it offered any more.
      const { challenge } = pkcePair();
      const login = expectPageStop(await browserFor().get(authorizationUrl(broker, { client: app, state: randomToken(), codeChallenge: challenge })));
      expect(upstreamLinks(login.html).has('Corp SSO')).toBe(false);
    } finally {
      await updateUpstream(broker.db.prisma, KEK, 'corp', { disabled: false });
    }
  });
});
