import { applyMapping, AttributeMapping, evaluatePolicy, MappableIdentity, ProvisioningPolicy } from '@provisio/connectors';
import type { TenantDatabase } from '@provisio/persistence';
import { copyRows, CopyValue } from './copy-rows';

interface IdentityRow extends MappableIdentity {
  id: string;
}

/**
 * The expected side of classification: every identity the connector's policy covers, with the attributes
 * its declarative mapping gives it (libs/connectors' `applyMapping`, the same code the provisioning queue
 * writes with), computed in Node one batch at a time and COPYed into reconciliation_expected_accounts.
 * A full run covers every identity of the tenant; a delta only those linked to an account it read.
 * An identity the policy does not cover gets no row: its linked account is an orphan.
 */
export async function stageExpectedAccounts(
  db: TenantDatabase,
  tenantId: string,
  run: { id: string; connector_id: string; mode: string },
  target: { mapping: AttributeMapping; policy: ProvisioningPolicy },
  batchSize: number,
  stillHeld: () => Promise<void>,
): Promise<number> {
  let after = '00000000-0000-0000-0000-000000000000';
  let staged = 0;
  const onlyLinkedToStaged =
    run.mode === 'delta'
      ? `AND i.id IN (SELECT l.identity_id FROM account_links l JOIN reconciliation_staged_accounts s ON s.run_id = $4 AND s.external_uid = l.external_uid
                       WHERE l.tenant_id = $1 AND l.connector_id = $5 AND l.object_class = 'account')`
      : '';
  for (;;) {
    const rows = await db.read(tenantId).query<IdentityRow>(
      `SELECT i.id, i.username, i.email, i.display_name, i.status, i.source_user_id, i.attributes
         FROM identities i
        WHERE i.tenant_id = $1 AND i.id > $2 ${onlyLinkedToStaged}
        ORDER BY i.id LIMIT $3`,
      run.mode === 'delta' ? [after, batchSize, run.id, run.connector_id] : [after, batchSize],
    );
    if (rows.length === 0) return staged;
    const copy: CopyValue[][] = [];
    for (const identity of rows) {
      if (!evaluatePolicy(target.policy, identity).covered) continue;
      copy.push([run.id, identity.id, { json: applyMapping(target.mapping, identity).attributes }]);
    }
    await db.transaction(tenantId, (tx) => copyRows(tx, 'expected', copy));
    staged += copy.length;
    after = rows[rows.length - 1].id;
    await stillHeld();
    if (rows.length < batchSize) return staged;
  }
}
