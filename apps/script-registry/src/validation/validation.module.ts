import { Module } from '@nestjs/common';
import { StoredScripts } from './stored-scripts';
import { ValidationController } from './validation.controller';
import { ValidationService } from './validation.service';

/**
 * Validation of scripts (seed 000 ValidationResult) on the registry's sandbox pool (ScriptExecutionModule's, global). Exports
 * `ValidationService` (templates check that a filled template compiles) and `StoredScripts` (dry runs
 * load the same versions).
 */
@Module({
  controllers: [ValidationController],
  providers: [ValidationService, StoredScripts],
  exports: [ValidationService, StoredScripts],
})
export class ValidationModule {}
