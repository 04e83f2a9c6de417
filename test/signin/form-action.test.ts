// Which destination a form's redirect chain may reach (CSP form-action, security-headers.ts):
// the origin of a web redirect URI, the scheme of a native app's private-use URI.
import { formActionSource } from '../../src/pages/form-targets.js';

test('form-action sources for redirect URIs', () => {
  expect(formActionSource('https://app.example.com/callback?x=1')).toBe('https://app.example.com');
  expect(formActionSource('http://127.0.0.1:51234/callback')).toBe('http://127.0.0.1:51234');
  // CSP host sources cannot hold IPv6 literals: the scheme stands in.
  expect(formActionSource('http://[::1]:51234/callback')).toBe('http:');
  // RFC 8252 §7.1 private-use scheme.
  expect(formActionSource('com.example.app:/oauth2redirect')).toBe('com.example.app:');
  expect(formActionSource('not a url')).toBeNull();
});
