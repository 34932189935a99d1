/**
 * What a SCIM 2.0 connector is configured with (stored as it is) and what it authenticates with
 * (encrypted by the connector API, never returned). Validated by zod; defaults filled here, so the
 * connector reads one complete shape.
 */
import { z } from 'zod';
import { connectorLimitsSchema } from '../connector-types';

const endpointSchema = z
  .string()
  .regex(/^\/[A-Za-z0-9._~\-/]*$/, 'must be a path starting with "/" (e.g. "/Users")')
  .refine((path) => !path.includes('..'), 'must not contain ".."');

const resourceTypeSchema = z
  .object({
    /** The resource type's endpoint under the base URL (RFC 7644 §3.2): `/Users`. */
    endpoint: endpointSchema,
    /** The core schema URN sent in `schemas` on create. */
    schema: z.string().min(1).max(300),
    /** Extension schema URNs the target expects on create (Enterprise User …). */
    extensions: z.array(z.string().min(1).max(300)).max(20).default([]),
  })
  .strict();

export const SCIM_USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const SCIM_GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';

export const scimConfigSchema = z
  .object({
    /** The SCIM service's base URL (everything before `/Users`), http or https. */
    baseUrl: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .refine((url) => !URL.canParse(url) || (!new URL(url).username && !new URL(url).password), 'must not carry credentials (put them in the credentials)')
      .refine((url) => !URL.canParse(url) || (!new URL(url).search && !new URL(url).hash), 'must not have a query or fragment'),
    /** How requests authenticate: `bearer` (Authorization: Bearer <token>) or `basic` (username and password). */
    auth: z.enum(['bearer', 'basic']),
    resourceTypes: z
      .object({
        account: resourceTypeSchema.default({ endpoint: '/Users', schema: SCIM_USER_SCHEMA, extensions: [] }),
        group: resourceTypeSchema.default({ endpoint: '/Groups', schema: SCIM_GROUP_SCHEMA, extensions: [] }),
      })
      .strict()
      .default({
        account: { endpoint: '/Users', schema: SCIM_USER_SCHEMA, extensions: [] },
        group: { endpoint: '/Groups', schema: SCIM_GROUP_SCHEMA, extensions: [] },
      }),
    /** Resources asked for per page (`count`); the server may return fewer. */
    pageSize: z.number().int().min(1).max(10_000).default(100),
    /** `auto`: writeBatch uses /Bulk when /ServiceProviderConfig says bulk is supported; `never`: single writes. */
    bulk: z.enum(['auto', 'never']).default('auto'),
    /** Operations per Bulk request, at most the server's `bulk.maxOperations`. */
    bulkMaxOperations: z.number().int().min(1).max(10_000).default(100),
    /** Send `If-Match` with the ETag a caller passes to update (and that get returned). */
    etags: z.boolean().default(true),
    /** Extra request headers that are not secret (a tenant header some services want). */
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'must be a header name'), z.string().max(1000))
      .refine((headers) => !Object.keys(headers).some((name) => name.toLowerCase() === 'authorization'), 'must not set Authorization (use the credentials)')
      .default({}),
    /** TLS for https base URLs: a private CA (PEM), and whether to verify the server's certificate (keep true). */
    tls: z
      .object({ ca: z.string().max(100_000).optional(), rejectUnauthorized: z.boolean().default(true) })
      .strict()
      .default({ rejectUnauthorized: true }),
    limits: connectorLimitsSchema.default({ maxConnections: 10, maxConcurrency: 10, timeoutMs: 30_000 }),
  })
  .strict();

export type ScimConfig = z.infer<typeof scimConfigSchema>;

export const scimCredentialsSchema = z.union([
  z.object({ token: z.string().min(1).max(10_000) }).strict(),
  z.object({ username: z.string().min(1).max(1000), password: z.string().max(10_000) }).strict(),
]);

export type ScimCredentials = z.infer<typeof scimCredentialsSchema>;
