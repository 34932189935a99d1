import { Module } from '@nestjs/common';
import { ConflictDetector } from './conflicts/conflict-detector';
import { ConflictsRepository } from './conflicts/conflicts.repository';
import { OperationPlanner } from './operation-planner.service';
import { OperationsRepository } from './operations.repository';

/**
 * Creating operations (and detecting their conflicts), apart from running them: the identity store
 * imports this to create operations in the transaction of each identity change, without depending on
 * the queue.
 */
@Module({
  providers: [OperationsRepository, ConflictsRepository, ConflictDetector, OperationPlanner],
  exports: [OperationsRepository, ConflictsRepository, ConflictDetector, OperationPlanner],
})
export class OperationPlanningModule {}
