import { createCloudEvent, EventType, messageKey, ScriptChanged, scriptChangedSchema, Topic } from '@provisio/contracts';
import type { OutboxEntry } from '@provisio/platform';

/** `source` of the CloudEvents the registry emits. */
export const REGISTRY_EVENT_SOURCE = 'provisio/script-registry';

/**
 * The outbox entry announcing a change of a script on `provisio.script-changes` (for
 * `AuditService.recordAndAnnounce`, which writes it with the audit row): the scheduler wakes up for new
 * schedules. Keyed by tenant + script, so the changes of one script arrive in commit order.
 */
export function scriptChanged(tenantId: string, script: { id: string; status: string; current_version: number }, change: ScriptChanged['change']): OutboxEntry {
  const data = scriptChangedSchema.parse({ script_id: script.id, change, status: script.status, current_version: script.current_version });
  return {
    topic: Topic.ScriptChanges,
    key: messageKey.tenantScript(tenantId, script.id),
    event: createCloudEvent({ source: REGISTRY_EVENT_SOURCE, type: EventType.ScriptChanged, tenantid: tenantId, subject: script.id, data }),
  };
}
