import { Injectable, OnModuleInit } from '@nestjs/common';
import { ConsumerGroup, EventType, ScriptChanged, scriptChangedSchema, Topic } from '@provisio/contracts';
import { EventConsumerHost } from '@provisio/platform';
import { LoopWakeups } from '../core.module';

/**
 * `provisio.script.changed`: the registry has already written what the scheduler needs (it resets
 * `next_run_at` in the same transaction as the change), so there is nothing to apply here; the event only
 * wakes the firing loop, so a new or re-activated schedule is computed at once rather than at the next poll.
 */
@Injectable()
export class ScriptChangesConsumer implements OnModuleInit {
  constructor(
    private readonly host: EventConsumerHost,
    private readonly wakeups: LoopWakeups,
  ) {}

  onModuleInit(): void {
    this.host.register<ScriptChanged>({
      groupId: ConsumerGroup.SchedulerScriptChanges,
      topic: Topic.ScriptChanges,
      schemaFor: (type) => (type === EventType.ScriptChanged ? scriptChangedSchema : null),
      // Only new schedules to look at: not the topic's history.
      fromBeginning: false,
      handle: async () => undefined,
      afterCommit: async (event) => {
        if (event.data.change !== 'deleted' && event.data.change !== 'version_created') this.wakeups.soon();
      },
    });
  }
}
