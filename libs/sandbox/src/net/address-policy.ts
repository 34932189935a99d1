// Which destinations a script's `fetch` may reach. Refused unless the tenant allows the host by name:
// loopback, private, link-local, CGNAT, unspecified, multicast/reserved ranges, and cloud metadata
// endpoints. IPv4 embedded in IPv6 (mapped, compatible, NAT64, 6to4) is checked as the IPv4 it carries.
import { BlockList, isIP, isIPv4 } from 'node:net';

const blocked = new BlockList();
const V4: [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified ("this network")'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.169.254', 32, 'cloud metadata'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved / broadcast'],
];
const V6: [string, number, string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['100::', 64, 'discard-only'],
  ['2001:db8::', 32, 'documentation'],
  ['fd00:ec2::254', 128, 'cloud metadata'],
  ['fc00::', 7, 'unique local (private)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];
const reasons: { list: BlockList; reason: string }[] = [];
for (const [net, prefix, reason] of V4) {
  blocked.addSubnet(net, prefix, 'ipv4');
  const one = new BlockList();
  one.addSubnet(net, prefix, 'ipv4');
  reasons.push({ list: one, reason });
}
for (const [net, prefix, reason] of V6) {
  blocked.addSubnet(net, prefix, 'ipv6');
  const one = new BlockList();
  one.addSubnet(net, prefix, 'ipv6');
  reasons.push({ list: one, reason });
}

/** Names refused whatever they resolve to. */
const BLOCKED_NAMES = new Set([
  'localhost',
  'localhost.localdomain',
  'ip6-localhost',
  'ip6-loopback',
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);
const BLOCKED_SUFFIXES = ['.localhost', '.internal', '.local'];

function expandV6(address: string): number[] | null {
  // Returns the 8 hextets of an IPv6 address (an embedded dotted IPv4 tail is folded in).
  let a = address.toLowerCase();
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4tail) {
    const p = v4tail[1].split('.').map(Number);
    a = a.slice(0, -v4tail[1].length) + ((p[0] << 8) | p[1]).toString(16) + ':' + ((p[2] << 8) | p[3]).toString(16);
  }
  const halves = a.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const words = [...head, ...Array(Math.max(fill, 0)).fill('0'), ...tail].map((h) => parseInt(h, 16));
  return words.length === 8 && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff) ? words : null;
}

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64 64:ff9b::/96, 6to4 2002::/16), if any. */
export function embeddedIPv4(address: string): string | null {
  const w = expandV6(address);
  if (!w) return null;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  const zeros = (from: number, to: number) => w.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && w[5] === 0xffff) return v4(w[6], w[7]); // ::ffff:a.b.c.d
  if (zeros(0, 6) && (w[6] !== 0 || w[7] > 1)) return v4(w[6], w[7]); // ::a.b.c.d (deprecated compatible)
  if (w[0] === 0x64 && w[1] === 0xff9b && zeros(2, 6)) return v4(w[6], w[7]); // NAT64
  if (w[0] === 0x2002) return v4(w[1], w[2]); // 6to4
  return null;
}

/** Why `address` (an IP literal) may not be reached, or null when it may. */
export function blockedAddressReason(address: string): string | null {
  const ip = address.replace(/^\[|\]$/g, '');
  const family = isIP(ip);
  if (family === 0) return 'not an IP address';
  if (family === 6) {
    const v4 = embeddedIPv4(ip);
    if (v4) return blockedAddressReason(v4);
  }
  const type = isIPv4(ip) ? 'ipv4' : 'ipv6';
  if (!blocked.check(ip, type)) return null;
  for (const { list, reason } of reasons) if (list.check(ip, type)) return reason;
  return 'reserved';
}

/** Why a host NAME may not be reached before it is even resolved, or null. */
export function blockedNameReason(hostname: string): string | null {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  if (BLOCKED_NAMES.has(name)) return name.startsWith('metadata') || name.startsWith('instance-data') ? 'cloud metadata' : 'loopback';
  for (const suffix of BLOCKED_SUFFIXES) if (name.endsWith(suffix)) return `internal name (*${suffix})`;
  return null;
}

/**
 * True when the tenant allows `hostname`: entries are exact names or IP literals (`api.corp.example`,
 * `10.1.2.3`, `[fd00::1]`) or one-level-or-more wildcards (`*.corp.example`, which does not match
 * `corp.example` itself). Comparison ignores case and a trailing dot.
 */
export function isHostAllowed(hostname: string, allowedHosts: readonly string[] | undefined): boolean {
  if (!allowedHosts || allowedHosts.length === 0) return false;
  const host = hostname.toLowerCase().replace(/\.$/, '').replace(/^\[|\]$/g, '');
  for (const raw of allowedHosts) {
    if (typeof raw !== 'string') continue;
    const entry = raw.trim().toLowerCase().replace(/\.$/, '').replace(/^\[|\]$/g, '');
    if (!entry) continue;
    if (entry.startsWith('*.')) {
      const suffix = entry.slice(1);
      if (suffix.length > 1 && host.endsWith(suffix) && host.length > suffix.length) return true;
    } else if (entry === host) {
      return true;
    }
  }
  return false;
}
