import { Module } from '@nestjs/common';
import { MappingScriptRunner } from './mapping-script-runner';

/**
 * Connector mapping scripts (MappingScriptRunner), for every service that maps identities to accounts:
 * the provisioning queue (preview, operations) and the reconciler (expected attributes, in batches).
 * Runs through the app's ScriptExecutionModule (global) and reaches the scripts through TenantDataModule.
 */
@Module({ providers: [MappingScriptRunner], exports: [MappingScriptRunner] })
export class MappingScriptsModule {}
