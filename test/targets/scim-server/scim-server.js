// Provisio's own SCIM 2.0 target server (RFC 7643/7644), for tests, benchmarks and for trying Provisio
// without a real SCIM service. Built on scimmy (resources, schemas, PATCH, Bulk) and scimmy-routers
// (the express routes), holding Users and Groups in memory. Around them:
// - authentication by a bearer token and/or HTTP basic;
// - ETags: `meta.version` is sent as the ETag header, and `If-Match` on PUT/PATCH/DELETE is checked (412);
// - list pages (GET /Users, /Groups with filter, startIndex, count, sortBy) are served here from each
//   resource's JSON kept ready, and filters are parsed per RFC 7644 (scimmy's Filter does not parse
//   escaped quotes in strings; filter.js says why);
// - a fault injector and a fast seed under /_admin (same credentials), `/healthz` without any.
//
//   const { createScimServer } = require('test/targets/scim-server');
//   const server = createScimServer({ token: 't' });
//   const { url } = await server.listen(0);    // url = http://127.0.0.1:<port>/scim
//
// scimmy keeps its resource declarations and config per process; the handlers find their server's
// stores through the request context, so several servers can live in one process (tests do that).
'use strict';
const { timingSafeEqual } = require('node:crypto');
const express = require('express');
const SCIMMY = require('scimmy').default;
const SCIMMYRouters = require('scimmy-routers').default;
const { FaultInjector, sendError } = require('./faults');
const { parseFilter, matcher, FilterError } = require('./filter');
const { ScimStoreError, createStores } = require('./store');

const MAX_RESULTS = 1000;
const MAX_SEED = 1_000_000;

let declared = false;

/** Declares Users and Groups to scimmy once per process; the handlers work on the request's stores. */
function declareResources() {
  if (declared) return;
  declared = true;
  for (const [Resource, type] of [
    [SCIMMY.Resources.User, 'User'],
    [SCIMMY.Resources.Group, 'Group'],
  ]) {
    SCIMMY.Resources.declare(Resource, {
      ingress: (resource, instance, ctx) => {
        const store = ctx.stores[type];
        const data = plain(instance);
        try {
          const stored = resource.id ? store.replace(resource.id, data) : store.create(data);
          setEtag(ctx, stored);
          return stored;
        } catch (error) {
          throw scimError(error);
        }
      },
      egress: (resource, ctx) => {
        const store = ctx.stores[type];
        if (resource.id) {
          const found = store.get(resource.id);
          if (!found) throw new SCIMMY.Types.Error(404, null, `${type} ${resource.id} not found`);
          setEtag(ctx, found);
          return found;
        }
        // Only POST /.search gets here (GET lists are served by listRoute).
        const all = store.records().map((r) => r.resource);
        return resource.filter ? resource.filter.match(all) : all;
      },
      degress: (resource, ctx) => {
        try {
          ctx.stores[type].delete(resource.id);
        } catch (error) {
          throw scimError(error);
        }
      },
    });
  }
}

/** The ETag header of a single-resource answer (not of a Bulk or search answer, which carry many). */
function setEtag(ctx, resource) {
  if (ctx.single && !ctx.res.headersSent) ctx.res.setHeader('ETag', resource.meta.version);
}

function plain(instance) {
  return JSON.parse(JSON.stringify(instance));
}

function scimError(error) {
  if (error instanceof ScimStoreError) return new SCIMMY.Types.Error(error.status, error.scimType, error.message);
  return error;
}

function sameSecret(given, expected) {
  const a = Buffer.from(String(given));
  const b = Buffer.from(String(expected));
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * @param {object} options
 * @param {string} [options.token] bearer token accepted
 * @param {{username: string, password: string}} [options.basic] basic credentials accepted
 * @param {boolean} [options.bulk] advertise and serve /Bulk (default true)
 * @param {number} [options.maxResults] largest page (default 1000)
 */
function createScimServer(options = {}) {
  if (!options.token && !options.basic) throw new TypeError('createScimServer needs a token or basic credentials');
  declareResources();
  const stores = createStores();
  const faults = new FaultInjector();
  const maxResults = options.maxResults ?? MAX_RESULTS;
  const stats = { requests: 0, byMethod: {}, lastRequestAt: null };

  const authenticate = (req) => {
    const header = req.get('authorization') ?? '';
    if (options.token && header.startsWith('Bearer ') && sameSecret(header.slice(7), options.token)) return 'bearer';
    if (options.basic && header.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0 && sameSecret(decoded.slice(0, colon), options.basic.username) && sameSecret(decoded.slice(colon + 1), options.basic.password)) return 'basic';
    }
    return null;
  };
  const requireAuth = (req, res, next) => {
    if (authenticate(req)) return next();
    res.setHeader('WWW-Authenticate', options.token ? 'Bearer realm="scim"' : 'Basic realm="scim"');
    return sendError(res, 401, null, 'authentication required');
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/healthz', (_req, res) => res.json({ ok: true }));
  app.use('/_admin', requireAuth, express.json({ limit: '1mb', type: ['application/json', 'application/scim+json'] }), adminRouter({ stores, faults, stats }));

  const scim = express.Router();
  const scimJson = express.json({ type: ['application/scim+json', 'application/json'], limit: '4mb' });
  scim.use((req, _res, next) => {
    stats.requests++;
    stats.byMethod[req.method] = (stats.byMethod[req.method] ?? 0) + 1;
    stats.lastRequestAt = new Date().toISOString();
    next();
  });
  scim.use(faults.middleware());
  scim.use(requireAuth);
  for (const [endpoint, type] of [
    ['/Users', 'User'],
    ['/Groups', 'Group'],
  ]) {
    scim.get(endpoint, listRoute(stores[type], maxResults));
    scim.use(`${endpoint}/:id`, ifMatch(stores[type]));
    scim.post(endpoint, scimJson, createRoute(stores[type], type));
    scim.patch(`${endpoint}/:id`, scimJson, patchRoute(stores[type], type));
  }

  const schemes = [
    ...(options.token ? [{ type: 'oauthbearertoken', name: 'OAuth Bearer Token', description: 'Authentication with a bearer token', specUri: 'https://datatracker.ietf.org/doc/html/rfc6750' }] : []),
    ...(options.basic ? [{ type: 'httpbasic', name: 'HTTP Basic', description: 'Authentication with a username and password', specUri: 'https://datatracker.ietf.org/doc/html/rfc7617' }] : []),
  ];
  // scimmy's config is one per process: each request sets this server's (a test may run several servers).
  // Config.set appends authentication schemes; an empty list resets them first.
  const setConfig = () =>
    SCIMMY.Config.set({ authenticationSchemes: [] }) &&
    SCIMMY.Config.set({
      patch: true,
      filter: { supported: true, maxResults },
      sort: true,
      etag: true,
      changePassword: false,
      bulk: { supported: options.bulk !== false, maxOperations: 1000, maxPayloadSize: 4 * 1024 * 1024 },
      authenticationSchemes: schemes,
    });
  setConfig();
  const routers = new SCIMMYRouters({
    type: options.token ? 'bearer' : 'basic',
    handler: (req) => {
      if (!authenticate(req)) throw new Error('authentication required');
      return 'fixture';
    },
    context: (req) => ({ stores, res: req.res, single: !/\/(Bulk|\.search)(\?|$)/.test(req.originalUrl) }),
    baseUri: (req) => `${req.protocol}://${req.get('host')}`,
  });
  scim.use((_req, _res, next) => {
    setConfig();
    next();
  });
  scim.use(routers);
  app.use('/scim', scim);
  // Where the redirect fault sends clients that follow it (same origin).
  app.use('/_moved/scim', scim);

  let httpServer = null;
  return {
    app,
    stores,
    faults,
    stats,
    /** Listens on 127.0.0.1:`port` (0: a free one). Resolves to { url, port, close() }. */
    listen(port = 0, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        httpServer = app.listen(port, host);
        httpServer.keepAliveTimeout = 65_000;
        httpServer.once('error', reject);
        httpServer.once('listening', () => {
          const address = httpServer.address();
          const url = `http://${host}:${address.port}/scim`;
          for (const store of Object.values(stores)) store.base = url;
          resolve({ url, port: address.port, close: () => close() });
        });
      });
    },
    close,
  };

  function close() {
    return new Promise((resolve) => {
      if (!httpServer) return resolve();
      httpServer.closeAllConnections?.();
      httpServer.close(() => resolve());
    });
  }
}

/** GET /Users and /Groups: filter, sort and page over the store, answering from each resource's JSON. */
function listRoute(store, maxResults) {
  return (req, res) => {
    const query = req.query;
    const startIndex = positiveInt(query.startIndex, 1, 1);
    const count = Math.min(positiveInt(query.count, maxResults, 0), maxResults);
    let records;
    try {
      records = select(store, query.filter);
    } catch (error) {
      if (error instanceof FilterError) return sendError(res, 400, 'invalidFilter', error.message);
      throw error;
    }
    if (typeof query.sortBy === 'string' && query.sortBy) records = sortRecords(records, query.sortBy, query.sortOrder === 'descending');
    const page = records.slice(startIndex - 1, startIndex - 1 + count);
    const attributes = typeof query.attributes === 'string' && query.attributes ? query.attributes.split(',').map((a) => a.trim()).filter(Boolean) : null;
    const items = attributes ? page.map((r) => JSON.stringify(project(r.resource, attributes))) : page.map((r) => store.json(r));
    const body = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":${records.length},"startIndex":${startIndex},"itemsPerPage":${page.length},"Resources":[${items.join(',')}]}`;
    res.status(200).setHeader('Content-Type', 'application/scim+json');
    if (res.locals.truncatePage) {
      // A well-framed response (Content-Length matches) whose JSON stops halfway.
      const cut = Buffer.from(body).subarray(0, Math.max(1, Math.floor(Buffer.byteLength(body) / 2)));
      res.setHeader('Content-Length', String(cut.length));
      return res.end(cut);
    }
    return res.send(body);
  };
}

function positiveInt(value, fallback, min) {
  if (value === undefined) return fallback;
  const n = Number(value);
  return Number.isInteger(n) ? Math.max(n, min) : fallback;
}

/** The records a filter selects: an index lookup for `<unique attribute> eq "…"`, a scan otherwise. */
function select(store, filterText) {
  if (filterText === undefined) return store.records();
  const ast = parseFilter(String(filterText));
  if (ast.op === 'eq' && typeof ast.compValue === 'string' && ast.attrPath.toLowerCase() === store.kind.uniqueAttribute.toLowerCase()) {
    const found = store.findByUnique(ast.compValue);
    return found ? [found] : [];
  }
  if (ast.op === 'eq' && ast.attrPath.toLowerCase() === 'id') {
    const found = store.byId.get(String(ast.compValue));
    return found ? [found] : [];
  }
  const test = matcher(ast);
  return store.records().filter((r) => test(r.resource));
}

function sortRecords(records, sortBy, descending) {
  const path = sortBy.split('.');
  const valueOf = (resource) => path.reduce((v, key) => (v && typeof v === 'object' ? v[Object.keys(v).find((k) => k.toLowerCase() === key.toLowerCase())] : undefined), resource);
  const sorted = [...records].sort((a, b) => {
    const x = valueOf(a.resource);
    const y = valueOf(b.resource);
    if (x === y) return 0;
    if (x === undefined) return 1;
    if (y === undefined) return -1;
    return String(x).localeCompare(String(y));
  });
  return descending ? sorted.reverse() : sorted;
}

function project(resource, attributes) {
  const out = { schemas: resource.schemas, id: resource.id, meta: resource.meta };
  for (const name of attributes) {
    const key = Object.keys(resource).find((k) => k.toLowerCase() === name.toLowerCase());
    if (key !== undefined) out[key] = resource[key];
  }
  return out;
}

// POST and PATCH of one resource, served here rather than by scimmy-routers for speed, with scimmy doing the
// same work: schema validation of what is written (Schemas.User/Group "in"), and PatchOp's own application
// of the operations. scimmy's routes coerce a resource through its schema six times for one PATCH (read,
// copy, write in and out, final copy, response) and twice for a POST; these do it twice and once, and
// answer with the stored resource's JSON.

function sendScimError(res, error) {
  let failure = null;
  if (error instanceof SCIMMY.Types.Error) failure = error;
  else if (error instanceof ScimStoreError) failure = scimError(error);
  else if (error instanceof TypeError) failure = new SCIMMY.Types.Error(400, 'invalidValue', error.message);
  if (!failure) throw error;
  res.status(failure.status).setHeader('Content-Type', 'application/scim+json');
  return res.send(JSON.stringify(new SCIMMY.Messages.Error(failure)));
}

function sendResource(res, status, store, record) {
  res.status(status).setHeader('Content-Type', 'application/scim+json');
  res.setHeader('ETag', record.resource.meta.version);
  res.setHeader('Location', record.resource.meta.location);
  return res.send(store.json(record));
}

function createRoute(store, type) {
  const Schema = SCIMMY.Schemas[type];
  return (req, res) => {
    try {
      if (!req.body || typeof req.body !== 'object' || Array.isArray(req.body)) throw new SCIMMY.Types.Error(400, 'invalidSyntax', 'POST expects a single resource as its body');
      const stored = store.create(plain(new Schema(req.body, 'in')));
      return sendResource(res, 201, store, store.byId.get(stored.id));
    } catch (error) {
      return sendScimError(res, error);
    }
  };
}

function patchRoute(store, type) {
  const Schema = SCIMMY.Schemas[type];
  return async (req, res) => {
    try {
      const message = new SCIMMY.Messages.PatchOp(req.body);
      const current = store.get(req.params.id);
      if (!current) throw new SCIMMY.Types.Error(404, null, `${type} ${req.params.id} not found`);
      const patched = await message.apply(new Schema(current, 'out', store.base));
      // PatchOp.apply returns nothing when the operations changed nothing: the resource stays as it is.
      if (patched) store.replace(req.params.id, plain(patched));
      return sendResource(res, 200, store, store.byId.get(req.params.id));
    } catch (error) {
      return sendScimError(res, error);
    }
  };
}

/** `If-Match` on PUT/PATCH/DELETE of one resource: 412 when it names another version. */
function ifMatch(store) {
  return (req, res, next) => {
    const expected = req.get('if-match');
    if (!expected || expected.trim() === '*' || !['PUT', 'PATCH', 'DELETE'].includes(req.method)) return next();
    const current = store.version(req.params.id);
    if (current === null) return next(); // scimmy answers 404
    const tags = expected.split(',').map((t) => t.trim());
    if (tags.includes(current)) return next();
    res.setHeader('ETag', current);
    return sendError(res, 412, null, `the resource changed: its version is ${current}`);
  };
}

/** /_admin: faults, seed, reset, stats. */
function adminRouter({ stores, faults, stats }) {
  const router = express.Router();
  router.get('/faults', (_req, res) => res.json(faults.describe()));
  router.put('/faults', (req, res) => {
    try {
      res.json(faults.set(req.body));
    } catch (error) {
      res.status(400).json({ error: error.issues ? error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ') : error.message });
    }
  });
  router.delete('/faults', (_req, res) => {
    faults.clear();
    res.status(204).end();
  });
  // { resourceType?: 'User'|'Group', prefix: string, count: number, attributes?: object }
  router.post('/seed', (req, res) => {
    const { resourceType = 'User', prefix, count, attributes = {} } = req.body ?? {};
    const store = stores[resourceType];
    if (!store) return res.status(400).json({ error: 'resourceType: must be "User" or "Group"' });
    if (typeof prefix !== 'string' || prefix.length > 200) return res.status(400).json({ error: 'prefix: must be a string of at most 200 characters' });
    if (!Number.isInteger(count) || count < 1 || count > MAX_SEED) return res.status(400).json({ error: `count: must be an integer from 1 to ${MAX_SEED}` });
    if (!attributes || typeof attributes !== 'object' || Array.isArray(attributes)) return res.status(400).json({ error: 'attributes: must be an object' });
    const startedAt = Date.now();
    const now = new Date();
    const unique = store.kind.uniqueAttribute;
    let created = 0;
    try {
      for (let i = 0; i < count; i++) {
        const key = `${prefix}${i}`;
        const data = resourceType === 'User' ? { userName: key, active: true, displayName: key, ...attributes } : { displayName: key, ...attributes };
        data[unique] = key;
        store.create(data, now);
        created++;
      }
    } catch (error) {
      return res.status(error.status ?? 500).json({ error: error.message, created });
    }
    return res.status(201).json({ created, ms: Date.now() - startedAt });
  });
  // ?resourceType=User|Group (default both); ?prefix=p deletes only those whose userName/displayName starts with p.
  router.delete('/resources', (req, res) => {
    const types = req.query.resourceType ? [String(req.query.resourceType)] : Object.keys(stores);
    if (types.some((type) => !stores[type])) return res.status(400).json({ error: 'resourceType: must be "User" or "Group"' });
    const prefix = typeof req.query.prefix === 'string' && req.query.prefix ? req.query.prefix.toLowerCase() : null;
    let deleted = 0;
    for (const type of types) {
      const store = stores[type];
      if (!prefix) {
        deleted += store.size;
        store.clear();
        continue;
      }
      for (const record of [...store.records()]) {
        if (store.uniqueKey(record.resource)?.startsWith(prefix)) {
          store.delete(record.resource.id);
          deleted++;
        }
      }
    }
    return res.json({ deleted });
  });
  router.get('/stats', (_req, res) => res.json({ users: stores.User.size, groups: stores.Group.size, ...stats, faults: faults.describe() }));
  return router;
}

module.exports = { createScimServer };
