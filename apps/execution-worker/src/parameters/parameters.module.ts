import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, ScriptSecrets } from '@provisio/platform';
import type { AppConfig } from '../config';
import { RunInputs } from './run-inputs.service';

/** Scripts' typed parameters at run time: the input checked, secrets opened (SCRIPT_SECRETS_KEYS). */
@Global()
@Module({
  providers: [RunInputs, { provide: ScriptSecrets, useFactory: (config: AppConfig) => new ScriptSecrets(config), inject: [APP_CONFIG] }],
  exports: [RunInputs],
})
export class ParametersModule {}
