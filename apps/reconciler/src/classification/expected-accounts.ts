import { Inject, Injectable, Logger } from '@nestjs/common';
import { applyMapping, Attributes, evaluatePolicy, MappableIdentity } from '@provisio/connectors';
import { MappingConnector, MappingScriptFailed, MappingScriptRunner } from '@provisio/mapping-scripts';
import { TenantDatabase, TenantScoped } from '@provisio/persistence';
import { APP_CONFIG } from '@provisio/platform';
import type { TargetDefinition } from '../common/target-connectors';
import type { AppConfig } from '../config';
import { copyRows, CopyValue } from './copy-rows';

interface IdentityRow extends MappableIdentity {
  id: string;
}

/** A sandbox that is busy (full pool, the script's concurrency taken) is asked again this many times. */
const BUSY_RETRIES = 5;
const BUSY_BACKOFF_MS = 500;

/**
 * The expected side of classification: every identity the connector's policy covers, with the attributes
 * the connector's mapping gives it, COPYed one batch at a time into reconciliation_expected_accounts.
 * The mapping is what the provisioning queue writes with: the declarative rules (libs/connectors'
 * `applyMapping`), then, when the connector has one, its mapping script, run through the shared script
 * execution in batches (`MappingScriptRunner.applyMany`: one sandbox run per
 * RECONCILIATION_MAPPING_SCRIPT_BATCH identities, as many at once as the reconciler's sandbox pool has
 * workers), never one run per account. A script that throws, loops past its limit or answers something
 * that is not attributes fails the run, naming the script.
 *
 * A full run covers every identity of the tenant (one id range `after..upTo` per segment of the run);
 * a delta only those linked to an account it read. Each batch's COPY commits with `stillHeld`, in its
 * transaction, so a worker that lost the run writes nothing more.
 * An identity the policy does not cover gets no row: its linked account is an orphan.
 */
@Injectable()
export class ExpectedAccounts {
  private readonly logger = new Logger(ExpectedAccounts.name);

  constructor(
    private readonly db: TenantDatabase,
    private readonly scripts: MappingScriptRunner,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async stage(
    run: { id: string; tenant_id: string; connector_id: string; mode: string },
    target: TargetDefinition,
    stillHeld: (tx?: TenantScoped) => Promise<void>,
    range: { after: string; upTo: string } = { after: '00000000-0000-0000-0000-000000000000', upTo: 'ffffffff-ffff-ffff-ffff-ffffffffffff' },
  ): Promise<number> {
    const tenantId = run.tenant_id;
    const batchSize = this.config.RECONCILIATION_IDENTITY_BATCH;
    let after = range.after;
    let staged = 0;
    const stats = { runs: 0, ms: 0 };
    const onlyLinkedToStaged =
      run.mode === 'delta'
        ? `AND i.id IN (SELECT l.identity_id FROM account_links l JOIN reconciliation_staged_accounts s ON s.run_id = $5 AND s.external_uid = l.external_uid
                         WHERE l.tenant_id = $1 AND l.connector_id = $6 AND l.object_class = 'account')`
        : '';
    try {
      for (;;) {
        const rows = await this.db.read(tenantId).query<IdentityRow>(
          `SELECT i.id, i.username, i.email, i.display_name, i.status, i.source_user_id, i.attributes
             FROM identities i
            WHERE i.tenant_id = $1 AND i.id > $2 AND i.id <= $4 ${onlyLinkedToStaged}
            ORDER BY i.id LIMIT $3`,
          run.mode === 'delta' ? [after, batchSize, range.upTo, run.id, run.connector_id] : [after, batchSize, range.upTo],
        );
        if (rows.length === 0) return staged;
        const covered = rows.filter((identity) => evaluatePolicy(target.policy, identity).covered);
        const mapped = covered.map((identity) => applyMapping(target.mapping, identity).attributes);
        const expected = target.row.mapping_script_id ? await this.scripted(run, target, covered, mapped, stats) : mapped;
        const copy: CopyValue[][] = covered.map((identity, i) => [run.id, identity.id, { json: expected[i] }]);
        await this.db.transaction(tenantId, async (tx) => {
          await copyRows(tx, 'expected', copy);
          await stillHeld(tx);
        });
        staged += copy.length;
        after = rows[rows.length - 1].id;
        if (rows.length < batchSize) return staged;
      }
    } finally {
      if (stats.runs) this.logger.log({ message: 'mapping script applied', run_id: run.id, script_id: target.row.mapping_script_id, sandbox_runs: stats.runs, sandbox_ms: stats.ms, identities: staged });
    }
  }

  /** The mapping script over one batch of identities: chunks of RECONCILIATION_MAPPING_SCRIPT_BATCH, a pool's worth at once. */
  private async scripted(
    run: { id: string; tenant_id: string },
    target: TargetDefinition,
    identities: IdentityRow[],
    mapped: Attributes[],
    stats: { runs: number; ms: number },
  ): Promise<Attributes[]> {
    const scriptId = target.row.mapping_script_id!;
    const connector: MappingConnector = { id: target.row.id, name: target.row.name, type: target.row.type };
    const chunk = this.config.RECONCILIATION_MAPPING_SCRIPT_BATCH;
    const chunks: number[] = [];
    for (let start = 0; start < identities.length; start += chunk) chunks.push(start);
    const answers: Attributes[][] = new Array(chunks.length);
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) {
        const index = next++;
        const start = chunks[index];
        const inputs = identities.slice(start, start + chunk).map((identity, i) => ({ identity, attributes: mapped[start + i] }));
        const startedAt = Date.now();
        answers[index] = await this.applyMany(run.tenant_id, scriptId, connector, inputs, { triggerData: { reconciliation_run_id: run.id } });
        stats.runs += 1;
        stats.ms += Date.now() - startedAt;
      }
    };
    const parallel = Math.max(1, Math.min(this.config.RECONCILIATION_SANDBOX_POOL_SIZE, chunks.length));
    await Promise.all(Array.from({ length: parallel }, worker));
    return answers.flat();
  }

  private async applyMany(tenantId: string, scriptId: string, connector: MappingConnector, inputs: Parameters<MappingScriptRunner['applyMany']>[3], options: { triggerData: Record<string, unknown> }): Promise<Attributes[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.scripts.applyMany(tenantId, scriptId, connector, inputs, options)).attributes;
      } catch (error) {
        // Busy now (the pool is full, the script's concurrent runs are taken): wait and ask again; anything else fails the run.
        if (!(error instanceof MappingScriptFailed) || !error.transient || attempt >= BUSY_RETRIES) throw error;
        await new Promise((resolve) => setTimeout(resolve, BUSY_BACKOFF_MS * 2 ** attempt));
      }
    }
  }
}
