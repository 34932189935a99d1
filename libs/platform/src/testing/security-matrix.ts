import type { INestApplication } from '@nestjs/common';
import request, { Response } from 'supertest';
import { signDevToken } from '../auth/token-verifier';

/**
 * The security matrix every service's API is held to (tests only). Each app lists one row per route it
 * serves; `describeSecurityMatrix` checks that
 *   - every route Express serves has a row (a new endpoint without one fails), and every row is in the
 *     OpenAPI document;
 *   - probes, metrics and the docs are served without a token;
 * and, for every row:
 *   - 401 without a token and with a token signed by someone else,
 *   - 403 with a token holding every permission but the row's (and its resource's `:manage`),
 *   - 404 (or the row's own check, for collections) when aimed at another tenant's object, whose state
 *     (`foreignState`) stays unchanged,
 *   - 400 naming the field of a malformed body, query or path parameter,
 *   - success with exactly the row's permission (so the answers above are not accidents of a bad request).
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface MatrixRequest {
  path: string;
  query?: Record<string, unknown>;
  body?: unknown;
}

/** A request at another tenant's object; `expect` replaces the 404 check (collections answer 200 without it). */
export type ForeignRequest<F> = MatrixRequest & { expect?: (response: Response, fixture: F) => void };

export interface SecurityRow<F> {
  /** Exactly as Express registers it: `METHOD /path/:param`. */
  route: `${HttpMethod} /${string}`;
  permission: string;
  valid: (fixture: F) => MatrixRequest | Promise<MatrixRequest>;
  foreign: (fixture: F) => ForeignRequest<F> | Promise<ForeignRequest<F>>;
  malformed: (fixture: F) => (MatrixRequest & { field: string }) | Promise<MatrixRequest & { field: string }>;
}

/** What the matrix needs of a fixture: a caller of the own tenant that can mint tokens with given permissions. */
export interface MatrixFixture {
  own: { tenantId: string; with(permissions: string[]): { token: string } };
}

export interface SecurityMatrix<F extends MatrixFixture> {
  rows: readonly SecurityRow<F>[];
  /** Every permission there is (a 403 token holds all of them but the row's). */
  allPermissions: readonly string[];
  /** Getters: the app and fixture are made in the suite's `beforeAll`, after the rows are declared. */
  app: () => INestApplication;
  fixture: () => F;
  /** The other tenant's objects as they are; compared before and after every foreign request. */
  foreignState: () => Promise<unknown>;
}

/** Served without a token by every service: probes and metrics (and the API docs). */
export const PUBLIC_ROUTES = ['GET /health/live', 'GET /health/ready', 'GET /metrics'];
const isDocs = (route: string) => / \/docs/.test(route);

/** `METHOD /path/:param` of every route Express serves (Nest registers each controller method as one). */
export function servedRoutes(app: INestApplication): string[] {
  interface Layer {
    route?: { path: unknown; methods: Record<string, boolean> };
  }
  const router = (app.getHttpAdapter().getInstance() as { router: { stack: Layer[] } }).router;
  return router.stack.flatMap((layer) => {
    const route = layer.route;
    if (!route || typeof route.path !== 'string') return [];
    const methods = Object.keys(route.methods).filter((m) => m !== '_all');
    // Middleware applied to every path (`forRoutes('*path')`) registers as a route for all methods.
    if (route.path === '/{*path}' && methods.length > 20) return [];
    return methods.map((m) => `${m.toUpperCase()} ${route.path as string}`);
  });
}

/** Whether `path` is an instance of `route` (`GET /runs/:id` matches `/runs/42`). */
export function routeMatches(route: string, path: string): boolean {
  const pattern = route.slice(route.indexOf(' ') + 1).replace(/:[A-Za-z_]+/g, '[^/]+');
  return new RegExp(`^${pattern}$`).test(path);
}

/** Sends `req` with the row's method, as the bearer of `token` (none: anonymous). */
export function sendRequest(app: INestApplication, route: string, req: MatrixRequest, token?: string) {
  const method = route.slice(0, route.indexOf(' ')).toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
  let call = request(app.getHttpServer())[method](req.path);
  if (token) call = call.set('Authorization', `Bearer ${token}`);
  if (req.query) call = call.query(req.query);
  return req.body === undefined ? call : call.send(req.body as object);
}

/** Declares the matrix's tests; call it inside the suite's `describe`, after its `beforeAll`. */
export function describeSecurityMatrix<F extends MatrixFixture>(matrix: SecurityMatrix<F>): void {
  const { rows, allPermissions } = matrix;
  let baseline: unknown;

  describe('security matrix', () => {
    beforeAll(async () => {
      baseline = await matrix.foreignState();
    });

    it('has a row for every route the app serves, and a served route for every row', () => {
      const served = servedRoutes(matrix.app()).filter((route) => !isDocs(route) && !PUBLIC_ROUTES.includes(route));
      expect([...new Set(served)].sort()).toEqual(rows.map((row) => row.route).sort());
    });

    it('documents every row in the OpenAPI document', async () => {
      const document = (await request(matrix.app().getHttpServer()).get('/docs/openapi.json').expect(200)).body as { paths: Record<string, Record<string, unknown>> };
      const documented = Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((m) => `${m.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`));
      for (const row of rows) expect(documented).toContain(row.route);
    });

    it('serves probes, metrics and docs without a token', async () => {
      for (const route of [...PUBLIC_ROUTES, 'GET /docs/openapi.json']) {
        expect({ route, status: (await request(matrix.app().getHttpServer()).get(route.slice(4))).status }).toEqual({ route, status: 200 });
      }
    });

    describe.each([...rows])('$route ($permission)', (row) => {
      const send = (req: MatrixRequest, token?: string) => sendRequest(matrix.app(), row.route, req, token);

      it('answers 401 without a token or with a forged one', async () => {
        const fixture = matrix.fixture();
        const req = await row.valid(fixture);
        expect(routeMatches(row.route, req.path)).toBe(true);
        const anonymous = await send(req);
        expect({ status: anonymous.status, code: anonymous.body.code }).toEqual({ status: 401, code: 'unauthenticated' });
        const forged = signDevToken('someone-else-secret-0123456789abcdef', { sub: 'x', tenant_id: fixture.own.tenantId, permissions: ['*'] });
        expect((await send(req, forged)).status).toBe(401);
      });

      it('answers 403 to a token holding every permission but this one', async () => {
        const fixture = matrix.fixture();
        const resource = row.permission.slice(0, row.permission.indexOf(':'));
        const others = allPermissions.filter((p) => p !== row.permission && p !== `${resource}:manage`);
        const response = await send(await row.valid(fixture), fixture.own.with(others).token);
        expect({ status: response.status, code: response.body.code }).toEqual({ status: 403, code: 'forbidden' });
      });

      it("keeps another tenant's data out of reach", async () => {
        const fixture = matrix.fixture();
        const req = await row.foreign(fixture);
        expect(routeMatches(row.route, req.path)).toBe(true);
        const response = await send(req, fixture.own.with([row.permission]).token);
        if (req.expect) req.expect(response, fixture);
        else expect({ status: response.status, code: response.body.code }).toEqual({ status: 404, code: 'not_found' });
        expect(await matrix.foreignState()).toEqual(baseline);
      });

      it('answers 400 naming the field of a malformed request', async () => {
        const fixture = matrix.fixture();
        const req = await row.malformed(fixture);
        expect(routeMatches(row.route, req.path)).toBe(true);
        const response = await send(req, fixture.own.with([row.permission]).token);
        expect({ status: response.status, code: response.body.code, field: response.body.field }).toEqual({ status: 400, code: 'validation_failed', field: req.field });
      });

      it('succeeds with exactly this permission', async () => {
        const fixture = matrix.fixture();
        const response = await send(await row.valid(fixture), fixture.own.with([row.permission]).token);
        expect({ status: response.status, body: response.status < 300 ? 'ok' : response.body }).toEqual({ status: expect.any(Number), body: 'ok' });
        expect(response.status).toBeGreaterThanOrEqual(200);
      });
    });
  });
}
