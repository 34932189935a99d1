// The fixture server's fault injector: what `PUT /_admin/faults` switches on, applied to SCIM requests
// (never to /_admin or /healthz). Each fault may be limited in time (`forSeconds`) and to some methods.
'use strict';
const { z } = require('zod');

const timeWindow = { forSeconds: z.number().positive().max(86_400).optional() };

const faultSpecSchema = z
  .object({
    /** Every SCIM answer is delayed by this much. */
    latencyMs: z.number().int().min(0).max(600_000).optional(),
    /** 429 Too Many Requests with `Retry-After: retryAfterSeconds`. */
    rateLimit: z.object({ retryAfterSeconds: z.number().int().min(0).max(86_400), ...timeWindow }).strict().optional(),
    /** 503 Service Unavailable (with Retry-After when given). */
    unavailable: z.object({ retryAfterSeconds: z.number().int().min(0).max(86_400).optional(), ...timeWindow }).strict().optional(),
    /** A 5xx other than 503 (default 500). */
    serverError: z.object({ status: z.number().int().min(500).max(599).default(500), ...timeWindow }).strict().optional(),
    /** 307 Temporary Redirect to the same path at `to` (an origin, default this server's own under /_moved). */
    redirect: z.object({ to: z.url().optional(), ...timeWindow }).strict().optional(),
    /** List pages (GET /Users, /Groups) are cut in half: a well-framed body that is not valid JSON. */
    truncatedPage: z.object({ ...timeWindow }).strict().optional(),
    /** Only requests with these methods are faulted (default: all). */
    methods: z.array(z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])).min(1).optional(),
  })
  .strict();

class FaultInjector {
  constructor() {
    this.spec = {};
    this.setAt = 0;
  }

  /** Replaces the active faults (an empty object clears them). Throws a ZodError on a bad spec. */
  set(spec) {
    this.spec = faultSpecSchema.parse(spec ?? {});
    this.setAt = Date.now();
    return this.describe();
  }

  clear() {
    this.spec = {};
  }

  describe() {
    const active = {};
    for (const [name, value] of Object.entries(this.spec)) if (this.isOn(name)) active[name] = value;
    return active;
  }

  isOn(name) {
    const value = this.spec[name];
    if (value === undefined) return false;
    if (value && typeof value === 'object' && !Array.isArray(value) && value.forSeconds !== undefined) {
      return Date.now() < this.setAt + value.forSeconds * 1000;
    }
    return true;
  }

  applies(req) {
    return !this.spec.methods || this.spec.methods.includes(req.method);
  }

  /** Express middleware: delays, refuses or redirects a SCIM request as the active faults say. */
  middleware() {
    return async (req, res, next) => {
      if (!this.applies(req)) return next();
      if (this.isOn('latencyMs') && this.spec.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.spec.latencyMs));
      if (res.destroyed || req.destroyed) return undefined;
      if (this.isOn('rateLimit')) {
        res.setHeader('Retry-After', String(this.spec.rateLimit.retryAfterSeconds));
        return sendError(res, 429, null, 'too many requests (fault injected)');
      }
      if (this.isOn('unavailable')) {
        if (this.spec.unavailable.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(this.spec.unavailable.retryAfterSeconds));
        return sendError(res, 503, null, 'service unavailable (fault injected)');
      }
      if (this.isOn('serverError')) return sendError(res, this.spec.serverError.status, null, 'internal error (fault injected)');
      if (this.isOn('redirect') && !req.originalUrl.startsWith('/_moved/')) {
        const origin = this.spec.redirect.to ? new URL(this.spec.redirect.to).origin : `${req.protocol}://${req.get('host')}`;
        const prefix = this.spec.redirect.to ? '' : '/_moved';
        res.setHeader('Location', `${origin}${prefix}${req.originalUrl}`);
        res.status(307).end();
        return undefined;
      }
      if (this.isOn('truncatedPage')) res.locals.truncatePage = true;
      return next();
    };
  }
}

function sendError(res, status, scimType, detail) {
  res.status(status);
  res.setHeader('Content-Type', 'application/scim+json');
  res.send(JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: String(status), ...(scimType ? { scimType } : {}), detail }));
}

module.exports = { FaultInjector, faultSpecSchema, sendError };
