/**
 * What a SQL connector is configured with (stored as it is) and what it logs in with (the database password,
 * a credential: encrypted by the connector API, never returned). Validated by zod; defaults filled here.
 */
import { z } from 'zod';
import { connectorLimitsSchema } from '../connector-types';

/** A plain SQL identifier: quoted by the connector, and checked against the table's real columns as well. */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const identifier = z.string().regex(IDENTIFIER, 'must be a plain identifier (letters, digits, _; at most 63)');
const attributeName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/, 'must be an attribute name');
const scalar = z.union([z.string().max(1000), z.number(), z.boolean()]);

const tableMapping = z
  .object({
    /** The table or view: `accounts`, or `schema.accounts`. */
    table: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/, 'must be table or schema.table (plain identifiers)'),
    /** The column that identifies a row (unique): its value is the object's uid. */
    keyColumn: identifier,
    /** Attribute → column. The attribute mapped to keyColumn gives a new row its key. Unmapped attributes are refused. */
    columns: z.record(attributeName, identifier).refine((columns) => Object.keys(columns).length > 0, 'must map at least one attribute'),
    /** A timestamp column the target bumps on every change (or the connector sets, see setUpdatedAt): deltas read by it. */
    updatedAtColumn: identifier.optional(),
    /** Whether the connector writes updatedAtColumn itself (no trigger or ON UPDATE at the target). */
    setUpdatedAt: z.boolean().default(true),
    /** The column enable/disable writes, with the values that mean enabled and disabled. */
    enabled: z
      .object({ column: identifier, enabledValue: scalar.default(true), disabledValue: scalar.default(false) })
      .strict()
      .optional(),
    /** `insert`: create fails with AlreadyExists on an existing key; `upsert`: create overwrites the row (ON CONFLICT / ON DUPLICATE KEY). */
    createMode: z.enum(['insert', 'upsert']).default('insert'),
  })
  .strict()
  .refine((m) => Object.values(m.columns).includes(m.keyColumn), { message: 'an attribute must map to keyColumn (it gives new rows their key)', path: ['columns'] });

export type SqlTableMapping = z.infer<typeof tableMapping>;

export const sqlConfigSchema = z
  .object({
    dialect: z.enum(['postgres', 'mariadb']),
    host: z.string().min(1).max(255),
    port: z.number().int().min(1).max(65535).optional(),
    database: identifier,
    user: z.string().min(1).max(128),
    tls: z
      .object({
        enabled: z.boolean().default(false),
        ca: z.string().max(100_000).optional(),
        rejectUnauthorized: z.boolean().default(true),
      })
      .strict()
      .default({ enabled: false, rejectUnauthorized: true }),
    accounts: tableMapping,
    groups: tableMapping.optional(),
    /** Rows per search page unless a search asks for another size. */
    pageSize: z.number().int().min(1).max(50_000).default(1000),
    /** Rows per multi-row statement of writeBatch. */
    batchSize: z.number().int().min(1).max(5000).default(500),
    /** How long a write waits for a row lock before failing with LockTimeout (lock_timeout / innodb_lock_wait_timeout). */
    lockTimeoutMs: z.number().int().min(1).max(600_000).default(10_000),
    /** How far a delta watermark is set back from the newest updated_at seen: rows of transactions that committed late are read again, not missed. */
    deltaOverlapMs: z.number().int().min(0).max(3_600_000).default(1000),
    limits: connectorLimitsSchema.default({ maxConnections: 10, maxConcurrency: 10, timeoutMs: 30_000 }),
  })
  .strict();

export type SqlConfig = z.infer<typeof sqlConfigSchema>;

export const sqlCredentialsSchema = z.object({ password: z.string().max(10_000) }).strict();

export type SqlCredentials = z.infer<typeof sqlCredentialsSchema>;
