// The device flow's configuration: defaults, units and bounds.
import { parseConfig } from '../../src/config.js';

test('device flow defaults: 10 minute codes, 5 s polling, 5 wrong codes per session and 20 per IP in 15 minutes', () => {
  const result = parseConfig({});
  expect(result.ok && result.config.device).toEqual({ codeTtlSeconds: 600, pollIntervalSeconds: 5 });
  expect(result.ok && result.config.rateLimits).toMatchObject({
    'device-code-session': { points: 5, windowSeconds: 900 },
    'device-code-ip': { points: 20, windowSeconds: 900 },
  });
});

test('device flow settings accept units and are bounded', () => {
  const result = parseConfig({ DEVICE_CODE_TTL: '15m', DEVICE_POLL_INTERVAL: '10s', DEVICE_CODE_ENTRY_LIMIT: '3', DEVICE_CODE_ENTRY_IP_LIMIT: '50', DEVICE_CODE_ENTRY_WINDOW: '1h' });
  expect(result.ok && result.config.device).toEqual({ codeTtlSeconds: 900, pollIntervalSeconds: 10 });
  expect(result.ok && result.config.rateLimits).toMatchObject({
    'device-code-session': { points: 3, windowSeconds: 3600 },
    'device-code-ip': { points: 50, windowSeconds: 3600 },
  });
  const refused = parseConfig({ DEVICE_CODE_TTL: '2h', DEVICE_POLL_INTERVAL: '0', DEVICE_CODE_ENTRY_LIMIT: 'many', DEVICE_CODE_ENTRY_WINDOW: 'soon' });
  expect(refused.ok).toBe(false);
  if (refused.ok) return;
  expect(refused.problems).toEqual([
    'DEVICE_CODE_TTL: must be between 1s and 3600s',
    'DEVICE_POLL_INTERVAL: must be between 1s and 60s',
    'DEVICE_CODE_ENTRY_LIMIT: must be a number',
    'DEVICE_CODE_ENTRY_WINDOW: must be a duration like 600, 30s, 15m, 12h or 14d',
  ]);
});
