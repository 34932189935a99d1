import { Module } from '@nestjs/common';
import { ExecutionsModule } from '../executions/executions.module';
import { DomainEventsConsumer } from './domain-events.consumer';
import { EventTriggeredExecutionsService } from './event-triggered-executions.service';

/** Domain events in, pending event-triggered executions out. */
@Module({ imports: [ExecutionsModule], providers: [DomainEventsConsumer, EventTriggeredExecutionsService], exports: [EventTriggeredExecutionsService] })
export class DomainEventsModule {}
