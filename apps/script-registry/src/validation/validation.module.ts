import { Module } from '@nestjs/common';
import { DryRunService } from './dry-run.service';
import { RegistrySandboxModule } from './registry-sandbox.module';
import { StoredScripts } from './stored-scripts';
import { ValidationController } from './validation.controller';
import { ValidationService } from './validation.service';

/**
 * Validation and dry runs of scripts (seed 000 ValidationResult, DryRunResult) on the registry's sandbox
 * pool. Exports `ValidationService` (templates check that a filled template compiles).
 */
@Module({
  imports: [RegistrySandboxModule],
  controllers: [ValidationController],
  providers: [ValidationService, DryRunService, StoredScripts],
  exports: [ValidationService],
})
export class ValidationModule {}
