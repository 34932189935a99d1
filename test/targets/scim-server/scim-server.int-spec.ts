// The fixture SCIM server itself: what the connector suites and the bench rely on it to do.
import { randomBytes } from 'node:crypto';
import { createScimServer, ScimServer } from '.';

interface ListBody {
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: { id: string; userName: string }[];
}
type Body = Record<string, unknown> & { authenticationSchemes: { type: string }[]; scimType: string; error: string; id: string; requests: number; users: number };
const read = async <T>(response: Response): Promise<T> => (await response.json()) as T;

describe('fixture SCIM server', () => {
  const token = randomBytes(8).toString('hex');
  let server: ScimServer;
  let url: string;
  let origin: string;
  const auth = { authorization: `Bearer ${token}` };
  const request = (path: string, init: RequestInit = {}) =>
    fetch(path.startsWith('/_') || path === '/healthz' ? `${origin}${path}` : `${url}${path}`, {
      ...init,
      headers: { ...auth, 'content-type': 'application/scim+json', ...(init.headers as Record<string, string>) },
    });
  const createUser = async (userName: string, extra: Record<string, unknown> = {}) => {
    const response = await request('/Users', { method: 'POST', body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName, ...extra }) });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: string; meta: { version: string; lastModified: string } };
  };

  beforeAll(async () => {
    server = createScimServer({ token, basic: { username: 'u', password: 'p' } });
    ({ url } = await server.listen(0));
    origin = new URL(url).origin;
  });
  afterAll(() => server.close());
  afterEach(async () => void (await request('/_admin/faults', { method: 'DELETE' })));

  it('refuses /scim and /_admin without credentials, answers /healthz without', async () => {
    expect((await fetch(`${url}/Users`)).status).toBe(401);
    expect((await fetch(`${url}/Users`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${origin}/_admin/stats`)).status).toBe(401);
    expect((await fetch(`${url}/Users`, { headers: { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` } })).status).toBe(200);
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
  });

  it('advertises Bulk, ETags and both authentication schemes', async () => {
    const config = await read<Body>(await request('/ServiceProviderConfig'));
    expect(config).toMatchObject({ bulk: { supported: true, maxOperations: 1000 }, etag: { supported: true }, patch: { supported: true }, filter: { supported: true, maxResults: 1000 } });
    expect(config.authenticationSchemes.map((s) => s.type).sort()).toEqual(['httpbasic', 'oauthbearertoken']);
  });

  it('parses filter strings as JSON literals and compares userName case-insensitively', async () => {
    const quoted = await createUser('Say "Hi" \\ there');
    const filter = encodeURIComponent(`userName eq ${JSON.stringify('say "hi" \\ THERE')}`);
    const list = await read<ListBody>(await request(`/Users?filter=${filter}`));
    expect(list.Resources.map((r) => r.id)).toEqual([quoted.id]);
    const bad = await request(`/Users?filter=${encodeURIComponent('userName eq "unterminated')}`);
    expect(bad.status).toBe(400);
    expect((await read<Body>(bad)).scimType).toBe('invalidFilter');
  });

  it('pages by startIndex and count with totalResults', async () => {
    await request('/_admin/seed', { method: 'POST', body: JSON.stringify({ prefix: 'page-', count: 25 }) });
    const filter = encodeURIComponent('userName sw "page-"');
    const second = await read<ListBody>(await request(`/Users?filter=${filter}&startIndex=11&count=10`));
    expect(second).toMatchObject({ totalResults: 25, startIndex: 11, itemsPerPage: 10 });
    expect(second.Resources.map((r) => r.userName)).toEqual(Array.from({ length: 10 }, (_, i) => `page-${i + 10}`));
    const past = await read<ListBody>(await request(`/Users?filter=${filter}&startIndex=26&count=10`));
    expect(past).toMatchObject({ totalResults: 25, itemsPerPage: 0, Resources: [] });
  });

  it('answers meta.lastModified filters as instants', async () => {
    const before = new Date(Date.now() - 1000).toISOString().replace('.', ',').split(',')[0] + 'Z';
    const user = await createUser('recent-one');
    const list = await read<ListBody>(await request(`/Users?filter=${encodeURIComponent(`meta.lastModified ge "${before}" and userName eq "recent-one"`)}`));
    expect(list.Resources.map((r) => r.id)).toEqual([user.id]);
    const future = await read<ListBody>(await request(`/Users?filter=${encodeURIComponent(`meta.lastModified gt "2999-01-01T00:00:00Z"`)}`));
    expect(future.totalResults).toBe(0);
  });

  it('checks If-Match and sends the version as ETag', async () => {
    const user = await createUser('etagged');
    const patch = (ifMatch: string) =>
      request(`/Users/${user.id}`, {
        method: 'PATCH',
        headers: { 'if-match': ifMatch },
        body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'displayName', value: 'x' }] }),
      });
    const ok = await patch(user.meta.version);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('etag')).toBe('W/"2"');
    const stale = await patch(user.meta.version);
    expect(stale.status).toBe(412);
  });

  it('validates fault specs and lets a fault lapse after forSeconds', async () => {
    const bad = await request('/_admin/faults', { method: 'PUT', body: JSON.stringify({ rateLimit: { retryAfterSeconds: -1 }, nonsense: true }) });
    expect(bad.status).toBe(400);
    expect((await read<Body>(bad)).error).toMatch(/rateLimit\.retryAfterSeconds/);
    await request('/_admin/faults', { method: 'PUT', body: JSON.stringify({ serverError: { status: 502, forSeconds: 0.3 } }) });
    expect((await request('/Users?count=1')).status).toBe(502);
    expect((await request('/_admin/faults')).status).toBe(200); // admin is never faulted
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await request('/Users?count=1')).status).toBe(200);
  });

  it('limits faults to the methods named', async () => {
    await request('/_admin/faults', { method: 'PUT', body: JSON.stringify({ unavailable: { retryAfterSeconds: 3 }, methods: ['POST'] }) });
    expect((await request('/Users?count=1')).status).toBe(200);
    const refused = await request('/Users', { method: 'POST', body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'nope' }) });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('3');
  });

  it('truncates list pages only, leaving single resources whole', async () => {
    const user = await createUser('whole');
    await request('/_admin/faults', { method: 'PUT', body: JSON.stringify({ truncatedPage: {} }) });
    const page = await (await request('/Users?count=5')).text();
    expect(() => JSON.parse(page)).toThrow();
    expect((await read<Body>(await request(`/Users/${user.id}`))).id).toBe(user.id);
  });

  it('deletes the resources of one prefix', async () => {
    await request('/_admin/seed', { method: 'POST', body: JSON.stringify({ prefix: 'gone-', count: 30 }) });
    await createUser('kept-one');
    const response = await request('/_admin/resources?resourceType=User&prefix=GONE-', { method: 'DELETE' });
    expect(await read<Body>(response)).toEqual({ deleted: 30 });
    const left = await read<ListBody>(await request(`/Users?filter=${encodeURIComponent('userName sw "gone-" or userName eq "kept-one"')}`));
    expect(left.Resources.map((r) => r.userName)).toEqual(['kept-one']);
  });

  it('refuses a bad seed and counts requests', async () => {
    expect((await request('/_admin/seed', { method: 'POST', body: JSON.stringify({ prefix: 'x', count: 0 }) })).status).toBe(400);
    expect((await request('/_admin/seed', { method: 'POST', body: JSON.stringify({ prefix: 'x', count: 1, resourceType: 'Printer' }) })).status).toBe(400);
    const stats = await read<Body>(await request('/_admin/stats'));
    expect(stats.requests).toBeGreaterThan(5);
    expect(stats.users).toBeGreaterThanOrEqual(25);
  });
});
