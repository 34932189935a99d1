// The host side of `fetch`. Only loopback traffic: every other destination must be refused before a
// connection is attempted (names are "resolved" by an injected resolver, never by real DNS).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FetchRefusedError, checkFetchUrl, guardedFetch, resolvePublicAddresses } from './guarded-fetch';

describe('guardedFetch', () => {
  let server: Server;
  let port: number;
  let connections = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/slow') return void setTimeout(() => res.end('late'), 2000);
      if (req.url === '/hop') return void res.writeHead(301, { location: 'http://10.0.0.1/' }).end();
      // Same origin, then another origin (the same server under another name), then back.
      if (req.url === '/same') return void res.writeHead(302, { location: '/echo' }).end();
      if (req.url === '/away') return void res.writeHead(302, { location: `http://other.test:${port}/echo` }).end();
      if (req.url === '/away-public') return void res.writeHead(302, { location: `http://public.example:${port + 1}/` }).end();
      if (req.url === '/echo') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.headers));
      res.writeHead(200, { 'set-cookie': ['a=1', 'b=2'] }).end(`${req.method} ${req.url} ${req.headers['x-token'] ?? ''}`);
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const get = (url: string, extra: Partial<Parameters<typeof guardedFetch>[1]> = {}) =>
    guardedFetch({ url, method: 'GET', headers: {}, body: null }, { timeoutMs: 1000, ...extra });

  it('refuses URLs by scheme, name and literal address', () => {
    expect(() => checkFetchUrl('ftp://example.com/')).toThrow(/only http and https/);
    expect(() => checkFetchUrl('not a url')).toThrow(/not an absolute URL/);
    expect(() => checkFetchUrl('http://LOCALHOST./')).toThrow(/loopback host/);
    expect(() => checkFetchUrl('http://[::1]:8080/')).toThrow(/loopback address/);
    expect(() => checkFetchUrl('http://2130706433/')).toThrow(/loopback address/); // 127.0.0.1 as a number
    expect(() => checkFetchUrl('http://0x7f.1/')).toThrow(/loopback address/);
    expect(checkFetchUrl('https://api.example.com/x').hostname).toBe('api.example.com');
    expect(checkFetchUrl('http://10.1.2.3/', ['10.1.2.3']).hostname).toBe('10.1.2.3');
  });

  it('refuses a name when ANY of its addresses is private, before connecting', async () => {
    const resolveAll = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '10.0.0.5', family: 4 },
    ];
    await expect(resolvePublicAddresses('mixed.example.com', undefined, resolveAll)).rejects.toThrow(/resolves to 10\.0\.0\.5, a private address/);
    const before = connections;
    await expect(get(`http://rebind.example.com:${port}/`, { allowedPorts: [port], resolveAll: async () => [{ address: '127.0.0.1', family: 4 }] })).rejects.toThrow(
      /rebind\.example\.com resolves to 127\.0\.0\.1, a loopback address/,
    );
    expect(connections).toBe(before);
  });

  it('lets a tenant reach an allowed name, resolved at connect time', async () => {
    const response = await get(`http://hr.corp.example:${port}/users`, {
      allowedHosts: ['*.corp.example'],
      allowedPorts: [port],
      resolveAll: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    expect(response).toMatchObject({ status: 200, body: 'GET /users ' });
    expect(response.headers?.['set-cookie']).toBe('a=1, b=2');
  });

  it('sends method, headers and body', async () => {
    const response = await guardedFetch(
      { url: `http://127.0.0.1:${port}/p`, method: 'POST', headers: { 'x-token': 't0k' }, body: 'payload' },
      { timeoutMs: 1000, allowedHosts: ['127.0.0.1'], allowedPorts: [port] },
    );
    expect(response.body).toBe('POST /p t0k');
  });

  it('checks redirect targets like the first URL', async () => {
    await expect(get(`http://127.0.0.1:${port}/hop`, { allowedHosts: ['127.0.0.1'], allowedPorts: [port] })).rejects.toThrow(/10\.0\.0\.1 is a private address/);
  });

  it('gives up after its timeout', async () => {
    const started = Date.now();
    await expect(get(`http://127.0.0.1:${port}/slow`, { allowedHosts: ['127.0.0.1'], allowedPorts: [port], timeoutMs: 200 })).rejects.toThrow(/no response within 200 ms/);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('refuses odd methods and oversized bodies', async () => {
    await expect(guardedFetch({ url: 'https://api.example.com/', method: 'TRACE', headers: {}, body: null }, { timeoutMs: 100 })).rejects.toBeInstanceOf(FetchRefusedError);
    await expect(
      guardedFetch({ url: 'https://api.example.com/', method: 'POST', headers: {}, body: 'x'.repeat(1024 * 1024 + 1) }, { timeoutMs: 100 }),
    ).rejects.toThrow(/request body is over/);
  });

  it('reaches ports 80 and 443 only, unless the tenant allows more', () => {
    expect(() => checkFetchUrl('https://api.example.com:8443/')).toThrow(/port 8443 is not allowed/);
    expect(() => checkFetchUrl('http://api.example.com:22/')).toThrow(/port 22 is not allowed/);
    expect(() => checkFetchUrl('http://api.example.com:0/')).toThrow(/port 0 is not allowed/);
    expect(checkFetchUrl('https://api.example.com:443/').hostname).toBe('api.example.com');
    expect(checkFetchUrl('http://api.example.com:443/').hostname).toBe('api.example.com');
    expect(checkFetchUrl('https://api.example.com:80/').hostname).toBe('api.example.com');
    expect(checkFetchUrl('https://api.example.com:8443/', [], [8443]).port).toBe('8443');
    // A host the tenant lists is its own system, on any port.
    expect(checkFetchUrl('http://hr.corp.example:8080/', ['*.corp.example']).port).toBe('8080');
    expect(() => checkFetchUrl('http://api.example.com:8080/', ['*.corp.example'])).toThrow(/port 8080 is not allowed/);
  });

  it('refuses a port the tenant does not allow before connecting, on a redirect too', async () => {
    const before = connections;
    const resolveAll = async () => [{ address: '93.184.216.34', family: 4 }];
    await expect(get(`http://public.example:${port}/x`, { resolveAll })).rejects.toThrow(`port ${port} is not allowed`);
    expect(connections).toBe(before);
    // A redirect from an allowed host to a public one on another port is refused at that hop.
    await expect(get(`http://127.0.0.1:${port}/away-public`, { allowedHosts: ['127.0.0.1'], resolveAll })).rejects.toThrow(`port ${port + 1} is not allowed`);
    expect(connections).toBe(before + 1); // the first hop only
  });

  it('refuses a Host header set by the script', async () => {
    const before = connections;
    for (const name of ['Host', 'host', ' HOST ']) {
      await expect(
        guardedFetch({ url: `http://127.0.0.1:${port}/echo`, method: 'GET', headers: { [name]: 'internal.example' }, body: null }, { timeoutMs: 1000, allowedHosts: ['127.0.0.1'], allowedPorts: [port] }),
      ).rejects.toThrow(/cannot set the Host header/);
    }
    expect(connections).toBe(before);
  });

  it('keeps credentials on a same-origin redirect and drops them when a redirect leaves the origin', async () => {
    const headers = { Authorization: 'Bearer s3cret', cookie: 'sid=1', 'Proxy-Authorization': 'Basic x', 'x-token': 'kept' };
    const options = { timeoutMs: 1000, allowedHosts: ['127.0.0.1', 'other.test'], allowedPorts: [port], resolveAll: async () => [{ address: '127.0.0.1', family: 4 }] };
    const same = await guardedFetch({ url: `http://127.0.0.1:${port}/same`, method: 'GET', headers, body: null }, options);
    expect(JSON.parse(same.body ?? "")).toMatchObject({ authorization: 'Bearer s3cret', cookie: 'sid=1', 'proxy-authorization': 'Basic x', 'x-token': 'kept' });
    const away = await guardedFetch({ url: `http://127.0.0.1:${port}/away`, method: 'GET', headers, body: null }, options);
    expect(away.url).toBe(`http://other.test:${port}/echo`);
    const seen = JSON.parse(away.body ?? "") as Record<string, string>;
    expect(seen['x-token']).toBe('kept');
    expect(seen).not.toHaveProperty('authorization');
    expect(seen).not.toHaveProperty('cookie');
    expect(seen).not.toHaveProperty('proxy-authorization');
  });
});
