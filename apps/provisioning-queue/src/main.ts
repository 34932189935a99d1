import 'reflect-metadata';
import { bootstrapService, ConfigError, loadConfig } from '@provisio/platform';
import { AppModule } from './app.module';
import { appConfigSchema } from './config';

async function main(): Promise<void> {
  const config = loadConfig(appConfigSchema);
  await bootstrapService(AppModule.forRoot(config), {
    service: 'provisioning-queue',
    port: config.PORT,
    host: config.HOST,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    docs: { title: 'Provisio provisioning queue', description: 'Provisioning operations, hooks, retries, dead letters and conflicts.' },
  });
}

main().catch((error: unknown) => {
  // Configuration problems are the operator's to fix: say which variable, without a stack trace.
  process.stderr.write(`provisioning-queue failed to start: ${error instanceof ConfigError ? error.message : (error as Error).stack}\n`);
  process.exit(1);
});
