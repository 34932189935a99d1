import { Module } from '@nestjs/common';
import { ValidationModule } from '../validation/validation.module';
import { DryRunService } from './dry-run.service';
import { DryRunsController } from './dry-runs.controller';
import { UnsavedDryRunSlots } from './unsaved-dry-run-slots';

/**
 * Dry runs of scripts (seed 000 DryRunResult), run and recorded as `dry_run` executions by the app's
 * ScriptExecutionModule (global).
 */
@Module({
  imports: [ValidationModule],
  controllers: [DryRunsController],
  providers: [DryRunService, UnsavedDryRunSlots],
})
export class DryRunsModule {}
