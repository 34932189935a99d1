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
    await expect(get(`http://rebind.example.com:${port}/`, { resolveAll: async () => [{ address: '127.0.0.1', family: 4 }] })).rejects.toThrow(
      /rebind\.example\.com resolves to 127\.0\.0\.1, a loopback address/,
    );
    expect(connections).toBe(before);
  });

  it('lets a tenant reach an allowed name, resolved at connect time', async () => {
    const response = await get(`http://hr.corp.example:${port}/users`, {
      allowedHosts: ['*.corp.example'],
      resolveAll: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    expect(response).toMatchObject({ status: 200, body: 'GET /users ' });
    expect(response.headers?.['set-cookie']).toBe('a=1, b=2');
  });

  it('sends method, headers and body', async () => {
    const response = await guardedFetch(
      { url: `http://127.0.0.1:${port}/p`, method: 'POST', headers: { 'x-token': 't0k' }, body: 'payload' },
      { timeoutMs: 1000, allowedHosts: ['127.0.0.1'] },
    );
    expect(response.body).toBe('POST /p t0k');
  });

  it('checks redirect targets like the first URL', async () => {
    await expect(get(`http://127.0.0.1:${port}/hop`, { allowedHosts: ['127.0.0.1'] })).rejects.toThrow(/10\.0\.0\.1 is a private address/);
  });

  it('gives up after its timeout', async () => {
    const started = Date.now();
    await expect(get(`http://127.0.0.1:${port}/slow`, { allowedHosts: ['127.0.0.1'], timeoutMs: 200 })).rejects.toThrow(/no response within 200 ms/);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('refuses odd methods and oversized bodies', async () => {
    await expect(guardedFetch({ url: 'https://api.example.com/', method: 'TRACE', headers: {}, body: null }, { timeoutMs: 100 })).rejects.toBeInstanceOf(FetchRefusedError);
    await expect(
      guardedFetch({ url: 'https://api.example.com/', method: 'POST', headers: {}, body: 'x'.repeat(1024 * 1024 + 1) }, { timeoutMs: 100 }),
    ).rejects.toThrow(/request body is over/);
  });
});
