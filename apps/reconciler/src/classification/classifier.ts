import type { CrossTenant, TenantTransaction } from '@provisio/persistence';
import { CorrelationRule, identityExpression } from './correlation-rules';

export const DISCREPANCY_TYPES = ['missing', 'orphan', 'mismatch', 'collision', 'unlinked', 'deleted'] as const;
export type DiscrepancyType = (typeof DISCREPANCY_TYPES)[number];

/** PostgreSQL's work_mem for the classification transaction. */
const CLASSIFICATION_WORK_MEM = '128MB';

export interface ClassifyInput {
  runId: string;
  connectorId: string;
  mode: 'full' | 'delta';
  rules: CorrelationRule[];
}

/**
 * Classification of one run, as set-based statements over the staging tables (see
 * docs/reconciliation.md, "Discrepancy types", for when each type applies):
 *
 *   staged  S: the accounts the target returned (reconciliation_staged_accounts)
 *   links   L: account_links of the connector (object class `account`)
 *   covered E: identities the policy covers, with their expected attributes (reconciliation_expected_accounts)
 *
 * Every statement is one INSERT … SELECT into discrepancies; none runs per account. Idempotent: a rerun
 * of the phase (after a crash or a resume) first removes what an earlier attempt wrote.
 */
export async function classify(tx: TenantTransaction, input: ClassifyInput, timings: Record<string, number> = {}): Promise<Record<DiscrepancyType, number>> {
  const { runId, connectorId } = input;
  let mark = Date.now();
  const lap = (step: string) => {
    timings[step] = Date.now() - mark;
    mark = Date.now();
  };
  const counts = Object.fromEntries(DISCREPANCY_TYPES.map((t) => [t, 0])) as Record<DiscrepancyType, number>;
  // The joins run over every account and identity of the connector: hash them in memory rather than in
  // batches spilled to disk (SET LOCAL: this transaction only; written as a query the tenant check accepts).
  await tx.query(`SELECT set_config('work_mem', $2, true) FROM (SELECT $1::uuid AS tenant_id) t WHERE t.tenant_id = $1`, [CLASSIFICATION_WORK_MEM]);
  await tx.execute('DELETE FROM discrepancies WHERE tenant_id = $1 AND run_id = $2', [runId]);
  await tx.execute('DELETE FROM reconciliation_correlations WHERE tenant_id = $1 AND run_id = $2', [runId]);
  if (input.mode === 'delta') {
    // A delta page may hold an account twice (changed while being read): the newest copy wins.
    await tx.execute(
      `DELETE FROM reconciliation_staged_accounts a USING reconciliation_staged_accounts b
        WHERE a.tenant_id = $1 AND a.run_id = $2 AND b.run_id = $2 AND a.external_uid = b.external_uid AND a.seq < b.seq`,
      [runId],
    );
  }
  const insert = 'INSERT INTO discrepancies (tenant_id, connector_id, run_id, discrepancy_type, identity_id, external_uid, attribute_name, expected_value, actual_value)';
  const linked = `SELECT 1 FROM account_links l WHERE l.tenant_id = $1 AND l.connector_id = $3 AND l.object_class = 'account' AND l.external_uid = s.external_uid`;

  // mismatch: a linked account of a covered identity, one row per expected attribute whose value differs
  // (compared as text: 42 and "42" agree; an attribute the account lacks is a mismatch with actual NULL).
  counts.mismatch = await tx.execute(
    `${insert}
     SELECT $1, $3, $2, 'mismatch', e.identity_id, s.external_uid, kv.key, kv.value #>> '{}', s.attributes -> kv.key #>> '{}'
       FROM reconciliation_staged_accounts s
       JOIN account_links l ON l.tenant_id = $1 AND l.connector_id = $3 AND l.object_class = 'account' AND l.external_uid = s.external_uid
       JOIN reconciliation_expected_accounts e ON e.run_id = $2 AND e.identity_id = l.identity_id
       CROSS JOIN LATERAL jsonb_each(e.attributes) kv
      WHERE s.tenant_id = $1 AND s.run_id = $2 AND (kv.value #>> '{}') IS DISTINCT FROM (s.attributes -> kv.key #>> '{}')`,
    [runId, connectorId],
  );
  lap('mismatch');

  // Linked accounts whose identity the policy no longer covers (deleted, out of the filter): orphans.
  const uncovered = await tx.execute(
    `${insert}
     SELECT $1, $3, $2, 'orphan', l.identity_id, s.external_uid, NULL, NULL, NULL
       FROM reconciliation_staged_accounts s
       JOIN account_links l ON l.tenant_id = $1 AND l.connector_id = $3 AND l.object_class = 'account' AND l.external_uid = s.external_uid
      WHERE s.tenant_id = $1 AND s.run_id = $2
        AND NOT EXISTS (SELECT 1 FROM reconciliation_expected_accounts e WHERE e.run_id = $2 AND e.identity_id = l.identity_id)`,
    [runId, connectorId],
  );
  lap('uncovered');

  // Correlation of accounts no link names: rule by rule, only for accounts no earlier rule matched, and
  // only to identities without a link to this connector.
  for (const [index, rule] of input.rules.entries()) {
    const identity = identityExpression(rule.identity_attribute, 6);
    await tx.execute(
      `INSERT INTO reconciliation_correlations (tenant_id, run_id, external_uid, rule_index, identity_id)
       SELECT $1, $2, s.external_uid, $4, i.id
         FROM reconciliation_staged_accounts s
         JOIN identities i ON i.tenant_id = $1 AND lower(btrim(${identity.sql})) = lower(btrim(s.attributes ->> $5))
        WHERE s.tenant_id = $1 AND s.run_id = $2 AND s.attributes ->> $5 IS NOT NULL AND btrim(s.attributes ->> $5) <> ''
          AND NOT EXISTS (${linked})
          AND NOT EXISTS (SELECT 1 FROM reconciliation_correlations c WHERE c.run_id = $2 AND c.external_uid = s.external_uid)
          AND NOT EXISTS (SELECT 1 FROM account_links o WHERE o.tenant_id = $1 AND o.connector_id = $3 AND o.object_class = 'account' AND o.identity_id = i.id)`,
      [runId, connectorId, index, rule.target_attribute, ...(identity.value ? [identity.value] : [])],
    );
    lap(`correlation_${index}`);
  }
  const ruleName = `(SELECT r->>'identity_attribute' || '=' || (r->>'target_attribute') FROM jsonb_array_elements($4::jsonb) WITH ORDINALITY AS x(r, n) WHERE x.n = c.rule_index + 1)`;
  counts.unlinked = await tx.execute(
    `${insert}
     SELECT $1, $3, $2, 'unlinked', min(c.identity_id::text)::uuid, c.external_uid, min(${ruleName}), NULL, NULL
       FROM reconciliation_correlations c
      WHERE c.tenant_id = $1 AND c.run_id = $2
      GROUP BY c.external_uid HAVING count(*) = 1`,
    [runId, connectorId, JSON.stringify(input.rules)],
  );
  // collision: two or more candidates; expected_value lists them (at most 20).
  counts.collision = await tx.execute(
    `${insert}
     SELECT $1, $3, $2, 'collision', NULL, c.external_uid, min(${ruleName}), array_to_string((array_agg(c.identity_id::text ORDER BY c.identity_id))[1:20], ','), NULL
       FROM reconciliation_correlations c
      WHERE c.tenant_id = $1 AND c.run_id = $2
      GROUP BY c.external_uid HAVING count(*) > 1`,
    [runId, connectorId, JSON.stringify(input.rules)],
  );
  // orphan: an account no link names and no rule correlates.
  counts.orphan =
    uncovered +
    (await tx.execute(
      `${insert}
       SELECT $1, $3, $2, 'orphan', NULL, s.external_uid, NULL, NULL, NULL
         FROM reconciliation_staged_accounts s
        WHERE s.tenant_id = $1 AND s.run_id = $2 AND NOT EXISTS (${linked})
          AND NOT EXISTS (SELECT 1 FROM reconciliation_correlations c WHERE c.run_id = $2 AND c.external_uid = s.external_uid)`,
      [runId, connectorId],
    ));
  lap('unlinked_collision_orphan');

  if (input.mode === 'full') {
    // deleted: a link whose account the target no longer holds (only a full read can tell).
    counts.deleted = await tx.execute(
      `${insert}
       SELECT $1, $3, $2, 'deleted', l.identity_id, l.external_uid, NULL, NULL, NULL
         FROM account_links l
        WHERE l.tenant_id = $1 AND l.connector_id = $3 AND l.object_class = 'account'
          AND NOT EXISTS (SELECT 1 FROM reconciliation_staged_accounts s WHERE s.run_id = $2 AND s.external_uid = l.external_uid)`,
      [runId, connectorId],
    );
    lap('deleted');
    // missing: a covered identity without a link and that no unlinked account correlates to.
    counts.missing = await tx.execute(
      `${insert}
       SELECT $1, $3, $2, 'missing', e.identity_id, NULL, NULL, NULL, NULL
         FROM reconciliation_expected_accounts e
        WHERE e.tenant_id = $1 AND e.run_id = $2
          AND NOT EXISTS (SELECT 1 FROM account_links l WHERE l.tenant_id = $1 AND l.connector_id = $3 AND l.object_class = 'account' AND l.identity_id = e.identity_id)
          AND NOT EXISTS (SELECT 1 FROM reconciliation_correlations c WHERE c.run_id = $2 AND c.identity_id = e.identity_id)`,
      [runId, connectorId],
    );
    lap('missing');
  }
  return counts;
}

/** Tables the classification joins whose statistics may lag behind a bulk change: the staging tables and what they are compared with. */
const CLASSIFIED_TABLES = ['reconciliation_staged_accounts', 'reconciliation_expected_accounts', 'account_links', 'identities'];

/**
 * Brings the planner's statistics of the tables the classification joins up to date when they have
 * changed by more than a tenth since last analysed (or were never analysed). A run stages its accounts
 * and expected attributes seconds before classifying them, long before autovacuum looks; on statistics
 * of near-empty tables the planner picks nested loops, and the joins of 30,000 accounts then run for
 * minutes instead of a second. ANALYZE samples at most 30,000 rows a table, whatever its size.
 */
export async function refreshClassificationStatistics(db: CrossTenant): Promise<string[]> {
  const stale = await db.query<{ name: string }>(
    `SELECT t.name FROM unnest($1::text[]) AS t(name)
       JOIN pg_class c ON c.oid = to_regclass(t.name)
       LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
      WHERE s.last_analyze IS NULL AND s.last_autoanalyze IS NULL
         OR COALESCE(s.n_mod_since_analyze, 0) > 0.1 * GREATEST(c.reltuples, 0) + 500`,
    [CLASSIFIED_TABLES],
  );
  for (const { name } of stale) await db.execute(`ANALYZE ${name}`);
  return stale.map((t) => t.name);
}

/** What the default actions would delete (orphans) and inactivate (deleted accounts' identities): the guard rail's input. */
export async function destructiveCounts(tx: TenantTransaction, runId: string, connectorId: string): Promise<{ would_delete: number; would_inactivate: number; linked_accounts: number }> {
  const row = await tx.one<{ would_delete: number; would_inactivate: number; linked_accounts: number }>(
    `SELECT (SELECT count(*)::int FROM discrepancies WHERE tenant_id = $1 AND run_id = $2 AND discrepancy_type = 'orphan') AS would_delete,
            (SELECT count(*)::int FROM discrepancies WHERE tenant_id = $1 AND run_id = $2 AND discrepancy_type = 'deleted') AS would_inactivate,
            (SELECT count(*)::int FROM account_links WHERE tenant_id = $1 AND connector_id = $3 AND object_class = 'account') AS linked_accounts`,
    [runId, connectorId],
  );
  return row!;
}

/** Staging rows of a run are scratch: dropped once it ends (a paused run keeps them for its resume). */
export async function dropStaging(tx: TenantTransaction, runId: string): Promise<void> {
  for (const table of ['reconciliation_staged_accounts', 'reconciliation_expected_accounts', 'reconciliation_correlations']) {
    await tx.execute(`DELETE FROM ${table} WHERE tenant_id = $1 AND run_id = $2`, [runId]);
  }
}
