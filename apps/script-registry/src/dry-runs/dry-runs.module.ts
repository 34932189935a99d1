import { Module } from '@nestjs/common';
import { RegistrySandboxModule } from '../validation/registry-sandbox.module';
import { TenantLimitsModule } from '../tenant-limits/tenant-limits.module';
import { ValidationModule } from '../validation/validation.module';
import { DryRunService } from './dry-run.service';
import { DryRunsController } from './dry-runs.controller';
import { UnsavedDryRunSlots } from './unsaved-dry-run-slots';

/** Dry runs of scripts (seed 000 DryRunResult) on the registry's sandbox pool, recorded as `dry_run` executions. */
@Module({
  imports: [RegistrySandboxModule, ValidationModule, TenantLimitsModule],
  controllers: [DryRunsController],
  providers: [DryRunService, UnsavedDryRunSlots],
})
export class DryRunsModule {}
