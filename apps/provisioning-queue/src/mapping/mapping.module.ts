import { Module } from '@nestjs/common';
import { MappingScriptRunner } from './mapping-script-runner';

/** Connector mapping scripts, run through the app's ScriptExecutionModule (global). */
@Module({ providers: [MappingScriptRunner], exports: [MappingScriptRunner] })
export class MappingModule {}
