import { Module } from '@nestjs/common';
import { RegistrySandboxModule } from '../validation/registry-sandbox.module';
import { ValidationModule } from '../validation/validation.module';
import { DryRunService } from './dry-run.service';
import { DryRunsController } from './dry-runs.controller';

/** Dry runs of scripts (seed 000 DryRunResult) on the registry's sandbox pool, recorded as `dry_run` executions. */
@Module({
  imports: [RegistrySandboxModule, ValidationModule],
  controllers: [DryRunsController],
  providers: [DryRunService],
})
export class DryRunsModule {}
