// The provider's configuration is merged from the feature list (src/features.ts): a setting
// set by two features stops the start-up instead of the later one silently winning.
import { interactionPolicy } from 'oidc-provider';
import { mergeConfigurations } from '../../src/oidc/feature.js';

test('settings of different features are merged, features/ttl/interactions key by key', () => {
  const merged = mergeConfigurations([
    { name: 'a', configuration: { scopes: ['openid'], ttl: { Session: 10 }, features: { userinfo: { enabled: true } } } },
    { name: 'b', configuration: { ttl: { Grant: 20 }, features: { revocation: { enabled: true } } } },
    { name: 'c', install: () => undefined },
  ]);
  expect(merged).toEqual({ scopes: ['openid'], ttl: { Session: 10, Grant: 20 }, features: { userinfo: { enabled: true }, revocation: { enabled: true } } });
});

test('a top-level setting set by two features is refused, naming both', () => {
  expect(() =>
    mergeConfigurations([
      { name: 'sign-in', configuration: { scopes: ['openid'] } },
      { name: 'services', configuration: { scopes: ['api'] } },
    ]),
  ).toThrow('provider setting scopes is set by both sign-in and services');
});

test('a key inside ttl, features or interactions set by two features is refused', () => {
  expect(() =>
    mergeConfigurations([
      { name: 'core', configuration: { ttl: { AccessToken: 60 } } },
      { name: 'services', configuration: { ttl: { AccessToken: 120 } } },
    ]),
  ).toThrow('provider setting ttl.AccessToken is set by both core and services');
  expect(() =>
    mergeConfigurations([
      { name: 'a', configuration: { features: { deviceFlow: { enabled: true } } } },
      { name: 'b', configuration: { features: { deviceFlow: { enabled: false } } } },
    ]),
  ).toThrow('provider setting features.deviceFlow is set by both a and b');
});

test("prompt checks of several features are added to the policy one feature set, or to oidc-provider's default", () => {
  const check = (reason: string) => new interactionPolicy.Check(reason, reason, () => interactionPolicy.Check.NO_NEED_TO_PROMPT);
  const policy = interactionPolicy.base();
  const merged = mergeConfigurations([
    { name: 'device', configuration: { interactions: { policy } } },
    { name: 'mfa', promptChecks: [{ prompt: 'login', check: check('second_factor') }] },
    { name: 'other', promptChecks: [{ prompt: 'consent', check: check('other_consent') }] },
  ]);
  const reasons = (name: string) => [...(merged.interactions!.policy as interactionPolicy.DefaultPolicy).get(name)!.checks].map((c) => c.reason);
  expect(merged.interactions!.policy).toBe(policy);
  expect(reasons('login').at(-1)).toBe('second_factor');
  expect(reasons('consent').at(-1)).toBe('other_consent');

  const alone = mergeConfigurations([{ name: 'mfa', promptChecks: [{ prompt: 'login', check: check('second_factor') }] }]);
  expect([...(alone.interactions!.policy as interactionPolicy.DefaultPolicy).get('login')!.checks].map((c) => c.reason)).toContain('no_session');
  expect([...(alone.interactions!.policy as interactionPolicy.DefaultPolicy).get('login')!.checks].map((c) => c.reason).at(-1)).toBe('second_factor');
});
