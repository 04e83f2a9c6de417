// Where an outgoing request may go (server-side request forgery). A target's name is resolved
// once, every address it resolves to is checked, and the connection is made to the checked
// address (the `lookup` handed to node:http), so a name that answers differently the second time
// (DNS rebinding) cannot reach what the check refused. Loopback, private and link-local
// addresses (cloud metadata services live at 169.254.169.254) are refused unless
// WEBHOOK_ALLOW_TARGETS lists their kind; unspecified, multicast, broadcast and reserved
// addresses are refused always.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import type { WebhookTargetKind } from '../config.js';

export class TargetRefusedError extends Error {
  override name = 'TargetRefusedError';
}

function blockList(v4: string[], v6: string[]): BlockList {
  const list = new BlockList();
  for (const cidr of v4) list.addSubnet(cidr.split('/')[0]!, Number(cidr.split('/')[1]), 'ipv4');
  for (const cidr of v6) list.addSubnet(cidr.split('/')[0]!, Number(cidr.split('/')[1]), 'ipv6');
  return list;
}

const KINDS: Record<WebhookTargetKind, BlockList> = {
  loopback: blockList(['127.0.0.0/8'], ['::1/128']),
  // RFC 1918, RFC 6598 (carrier-grade NAT), RFC 4193 (unique local).
  private: blockList(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'], ['fc00::/7']),
  'link-local': blockList(['169.254.0.0/16'], ['fe80::/10']),
};

/** Never a destination: this host (0/8, ::), multicast, reserved and broadcast ranges, documentation and benchmarking ranges, NAT64/6to4 wrappers. */
const NEVER = blockList(
  ['0.0.0.0/8', '192.0.0.0/24', '192.0.2.0/24', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4'],
  ['::/128', 'ff00::/8', '64:ff9b::/96', '2001:db8::/32', '2002::/16', '100::/64'],
);

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) is checked as the IPv4 address it carries. */
function normalise(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return { address: mapped[1]!, family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

/** Why `address` may not be reached under `allowed`, or null when it may. */
export function refusalOf(address: string, allowed: readonly WebhookTargetKind[]): string | null {
  const { address: plain, family } = normalise(address);
  if (NEVER.check(plain, family)) return `${address} is not a routable destination`;
  for (const [kind, list] of Object.entries(KINDS) as [WebhookTargetKind, BlockList][]) {
    if (list.check(plain, family)) return allowed.includes(kind) ? null : `${address} is a ${kind} address (allow with WEBHOOK_ALLOW_TARGETS=${kind})`;
  }
  return null;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for node:http(s).request that resolves the name, refuses the request unless every
 * address is allowed, and hands back only checked addresses: the socket connects to one of them.
 */
export function checkedLookup(allowed: readonly WebhookTargetKind[]) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    dnsLookup(hostname, { all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      for (const { address } of addresses) {
        const refusal = refusalOf(address, allowed);
        if (refusal) return callback(new TargetRefusedError(`${hostname} resolves to ${refusal}`), []);
      }
      if (addresses.length === 0) return callback(new TargetRefusedError(`${hostname} does not resolve`), []);
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      return callback(null, first.address, first.family);
    });
  };
}

/** The host of a URL as node:http takes it (IPv6 literals without brackets). */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

/** Refuses an IP-literal target at once (node:net never calls `lookup` for one). */
export function checkLiteralTarget(url: URL, allowed: readonly WebhookTargetKind[]): void {
  const host = hostOf(url);
  if (isIP(host) === 0) return;
  const refusal = refusalOf(host, allowed);
  if (refusal) throw new TargetRefusedError(refusal);
}
