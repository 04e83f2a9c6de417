// The key a client address is counted under: IPv4 as it is, IPv6 by its /64 (one subscriber's
// usual allocation, RFC 6177), IPv4-mapped IPv6 as the IPv4 address it maps.
import { clientAddressKey } from '../../src/http/rate-limit.js';

test.each([
  ['198.51.100.7', '198.51.100.7'],
  ['::ffff:198.51.100.7', '198.51.100.7'],
  ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
  ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
  ['2001:0db8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
  ['2001:db8::1', '2001:db8:0:0::/64'],
  ['::1', '0:0:0:0::/64'],
  ['fe80::1%eth0', 'fe80:0:0:0::/64'],
  ['', 'unknown'],
])('%s is counted as %s', (address, key) => {
  expect(clientAddressKey(address)).toBe(key);
});

test('addresses in one /64 share a key; the next /64 does not', () => {
  expect(clientAddressKey('2001:db8:1:2:aaaa::1')).toBe(clientAddressKey('2001:db8:1:2:bbbb::2'));
  expect(clientAddressKey('2001:db8:1:3::1')).not.toBe(clientAddressKey('2001:db8:1:2::1'));
});
