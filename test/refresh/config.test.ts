// Refresh token settings: idle and absolute lifetimes and the reuse grace window, with their
// defaults, bounds and the rule that idle never exceeds absolute.
import { parseConfig } from '../../src/config.js';

const problemsOf = (env: Record<string, string>) => {
  const result = parseConfig(env);
  return result.ok ? [] : result.problems;
};

test('defaults: 14 days idle, 30 days absolute, a 5 second reuse grace window', () => {
  const result = parseConfig({});
  expect(result.ok && result.config.ttl).toMatchObject({ refreshTokenIdle: 14 * 86_400, refreshTokenAbsolute: 30 * 86_400, refreshTokenReuseGrace: 5 });
});

test('durations with units; 0 turns the grace window off', () => {
  const result = parseConfig({ REFRESH_TOKEN_IDLE_TTL: '2s', REFRESH_TOKEN_ABSOLUTE_TTL: '1h', REFRESH_TOKEN_REUSE_GRACE: '0' });
  expect(result.ok && result.config.ttl).toMatchObject({ refreshTokenIdle: 2, refreshTokenAbsolute: 3600, refreshTokenReuseGrace: 0 });
});

test('bad values are named with the reason', () => {
  expect(problemsOf({ REFRESH_TOKEN_REUSE_GRACE: '2m' })).toEqual(['REFRESH_TOKEN_REUSE_GRACE: must be between 0s and 60s']);
  expect(problemsOf({ REFRESH_TOKEN_REUSE_GRACE: 'soon' })).toEqual([expect.stringMatching(/^REFRESH_TOKEN_REUSE_GRACE: must be a duration/)]);
  expect(problemsOf({ REFRESH_TOKEN_IDLE_TTL: '0' })).toEqual(['REFRESH_TOKEN_IDLE_TTL: must be between 1s and 31536000s']);
  expect(problemsOf({ REFRESH_TOKEN_ABSOLUTE_TTL: '400d' })).toEqual(['REFRESH_TOKEN_ABSOLUTE_TTL: must be between 1s and 31536000s']);
});

test('the idle lifetime may not exceed the absolute one', () => {
  expect(problemsOf({ REFRESH_TOKEN_IDLE_TTL: '31d' })).toEqual(['REFRESH_TOKEN_IDLE_TTL: must not exceed REFRESH_TOKEN_ABSOLUTE_TTL']);
  expect(problemsOf({ REFRESH_TOKEN_IDLE_TTL: '30d', REFRESH_TOKEN_ABSOLUTE_TTL: '30d' })).toEqual([]);
});
