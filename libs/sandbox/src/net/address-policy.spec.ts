import { blockedAddressReason, blockedNameReason, embeddedIPv4, isHostAllowed } from './address-policy';

describe('fetch address policy', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'cloud metadata'],
    ['169.254.1.1', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.254', 'carrier-grade NAT'],
    ['0.0.0.0', 'unspecified ("this network")'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved / broadcast'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'unique local (private)'],
    ['fd12:3456::1', 'unique local (private)'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['fe80::1', 'link-local'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'cloud metadata'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:0a00:0001::', 'private'],
  ])('refuses %s (%s)', (address, reason) => {
    expect(blockedAddressReason(address)).toBe(reason);
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])('allows public %s', (address) => {
    expect(blockedAddressReason(address)).toBeNull();
  });

  it('extracts IPv4 embedded in IPv6', () => {
    expect(embeddedIPv4('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(embeddedIPv4('64:ff9b::c0a8:101')).toBe('192.168.1.1');
    expect(embeddedIPv4('2606:4700::1111')).toBeNull();
  });

  it('refuses local and metadata names before resolving them', () => {
    expect(blockedNameReason('localhost')).toBe('loopback');
    expect(blockedNameReason('LOCALHOST.')).toBe('loopback');
    expect(blockedNameReason('metadata.google.internal')).toBe('cloud metadata');
    expect(blockedNameReason('db.internal')).toBe('internal name (*.internal)');
    expect(blockedNameReason('printer.local')).toBe('internal name (*.local)');
    expect(blockedNameReason('api.example.com')).toBeNull();
  });

  it('matches a tenant allow-list by exact name or wildcard', () => {
    expect(isHostAllowed('api.corp.example', ['API.corp.example.'])).toBe(true);
    expect(isHostAllowed('x.corp.example', ['*.corp.example'])).toBe(true);
    expect(isHostAllowed('a.b.corp.example', ['*.corp.example'])).toBe(true);
    expect(isHostAllowed('corp.example', ['*.corp.example'])).toBe(false);
    expect(isHostAllowed('evilcorp.example', ['*.corp.example'])).toBe(false);
    expect(isHostAllowed('::1', ['[::1]'])).toBe(true);
    expect(isHostAllowed('10.0.0.1', [])).toBe(false);
    expect(isHostAllowed('10.0.0.1', undefined)).toBe(false);
  });
});
