import { Module } from '@nestjs/common';
import { SchedulerCoreModule } from '../core.module';
import { ScriptChangesConsumer } from './script-changes.consumer';

/** Script changes in: the firing loop looks at new and re-activated schedules at once. */
@Module({ imports: [SchedulerCoreModule], providers: [ScriptChangesConsumer] })
export class ScriptChangesModule {}
