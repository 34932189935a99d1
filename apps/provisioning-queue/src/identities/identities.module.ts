import { Module } from '@nestjs/common';
import { OperationPlanningModule } from '../operations/operation-planning.module';
import { IdentitiesController } from './identities.controller';
import { IdentitiesRepository } from './identities.repository';
import { IdentitiesService } from './identities.service';
import { IdentityChangesService } from './identity-changes.service';
import { UpstreamUsersService } from './upstream-users.service';
import { UserEventsConsumer } from './user-events.consumer';

/** The identity store: its API, and the consumer that keeps it from the upstream's `user.*` events. */
@Module({
  imports: [OperationPlanningModule],
  controllers: [IdentitiesController],
  providers: [IdentitiesRepository, IdentitiesService, IdentityChangesService, UpstreamUsersService, UserEventsConsumer],
  exports: [IdentitiesRepository, IdentityChangesService],
})
export class IdentitiesModule {}
