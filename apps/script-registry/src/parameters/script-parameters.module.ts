import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ScriptParametersController } from './script-parameters.controller';
import { ScriptParametersRepository } from './script-parameters.repository';
import { ScriptParametersService } from './script-parameters.service';

/** Typed script parameters (seed 004): their API, and the definitions run-now checks input against. */
@Module({
  imports: [AuditModule],
  controllers: [ScriptParametersController],
  providers: [ScriptParametersService, ScriptParametersRepository],
  exports: [ScriptParametersService],
})
export class ScriptParametersModule {}
