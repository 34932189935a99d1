import { createCloudEvent, EventType, messageKey, ScriptChanged, scriptChangedSchema, Topic } from '@provisio/contracts';
import type { OutboxEntry } from '@provisio/platform';
import type { TenantTransaction } from '@provisio/persistence';

/** `source` of the CloudEvents the registry emits. */
export const REGISTRY_EVENT_SOURCE = 'provisio/script-registry';

/**
 * Announces a change of a script on `provisio.script-changes` through the outbox, in the caller's
 * transaction: workers and the scheduler refresh what they cached. Keyed by tenant + script, so the
 * changes of one script arrive in commit order.
 */
export async function publishScriptChanged(
  tx: TenantTransaction,
  script: { id: string; status: string; current_version: number },
  change: ScriptChanged['change'],
): Promise<void> {
  await tx.publish(scriptChanged(tx.tenantId, script, change));
}

/** The outbox entry of a script change (for `AuditService.record`, which writes it with the audit row). */
export function scriptChanged(tenantId: string, script: { id: string; status: string; current_version: number }, change: ScriptChanged['change']): OutboxEntry {
  const data = scriptChangedSchema.parse({ script_id: script.id, change, status: script.status, current_version: script.current_version });
  return {
    topic: Topic.ScriptChanges,
    key: messageKey.tenantScript(tenantId, script.id),
    event: createCloudEvent({ source: REGISTRY_EVENT_SOURCE, type: EventType.ScriptChanged, tenantid: tenantId, subject: script.id, data }),
  };
}
