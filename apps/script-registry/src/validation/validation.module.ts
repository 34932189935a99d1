import { Module } from '@nestjs/common';
import { RegistrySandboxModule } from './registry-sandbox.module';
import { StoredScripts } from './stored-scripts';
import { ValidationController } from './validation.controller';
import { ValidationService } from './validation.service';

/**
 * Validation of scripts (seed 000 ValidationResult) on the registry's sandbox pool. Exports
 * `ValidationService` (templates check that a filled template compiles) and `StoredScripts` (dry runs
 * load the same versions).
 */
@Module({
  imports: [RegistrySandboxModule],
  controllers: [ValidationController],
  providers: [ValidationService, StoredScripts],
  exports: [ValidationService, StoredScripts],
})
export class ValidationModule {}
