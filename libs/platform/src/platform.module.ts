import { DynamicModule, Global, MiddlewareConsumer, Module, NestModule, Provider } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LoggerModule } from 'nestjs-pino';
import { DataSource } from 'typeorm';
import { createDataSourceOptions } from '@provisio/persistence';
import { AuthGuard } from './auth/auth.guard';
import { AuthConfig, TokenVerifier } from './auth/token-verifier';
import { ErrorResponseFilter } from './errors/error-response.filter';
import { HealthController, READINESS_CHECKS, ReadinessCheck, ShutdownState } from './health/health';
import { EventConsumerHost } from './kafka/event-consumer';
import { KafkaService } from './kafka/kafka.service';
import { loggingOptions } from './logging/logging';
import { HttpMetricsMiddleware, Metrics, MetricsController } from './metrics/metrics';
import { OutboxRelay } from './outbox/outbox-relay';
import { OutboxService } from './outbox/outbox.service';
import { RedisService } from './redis/redis';
import { APP_CONFIG, SERVICE_NAME } from './tokens';

export interface PlatformOptions {
  /** Service name: logs, metrics labels, Kafka client id. */
  service: string;
  /** The validated configuration (from `loadConfig`). */
  config: Record<string, unknown> & { LOG_LEVEL: string };
  database?: boolean;
  redis?: boolean;
  kafka?: boolean;
  /** Runs the outbox relay in this service (needs database and kafka). */
  outboxRelay?: boolean;
}

/**
 * What every Provisio service gets: JSON logging, config, auth (global guard: every endpoint is
 * authenticated and checks a permission), one error shape, health probes, Prometheus metrics, and
 * the database, Redis and Kafka clients it asks for, each registered as a readiness check.
 */
@Global()
@Module({})
export class PlatformModule implements NestModule {
  static forRoot(options: PlatformOptions): DynamicModule {
    const config = options.config;
    const imports: DynamicModule['imports'] = [LoggerModule.forRoot(loggingOptions(options.service, config.LOG_LEVEL)), TerminusModule];
    const providers: Provider[] = [
      { provide: APP_CONFIG, useValue: config },
      { provide: SERVICE_NAME, useValue: options.service },
      { provide: Metrics, useValue: new Metrics(options.service) },
      ShutdownState,
      { provide: TokenVerifier, useValue: new TokenVerifier(config as AuthConfig) },
      { provide: APP_GUARD, useClass: AuthGuard },
      { provide: APP_FILTER, useClass: ErrorResponseFilter },
    ];
    const exported: NonNullable<DynamicModule['exports']> = [APP_CONFIG, SERVICE_NAME, Metrics, ShutdownState];
    const checks: { token: unknown; check: (instance: never) => ReadinessCheck }[] = [];

    if (options.database) {
      imports.push(
        TypeOrmModule.forRoot({
          ...createDataSourceOptions({
            url: config.DATABASE_URL as string,
            schema: config.DATABASE_SCHEMA as string,
            poolSize: config.DATABASE_POOL_SIZE as number,
          }),
          // Start-up fails fast with a clear error instead of retrying forever.
          retryAttempts: 3,
          retryDelay: 1_000,
        }),
      );
      providers.push(OutboxService);
      exported.push(OutboxService);
      checks.push({ token: DataSource, check: (ds: DataSource) => ({ name: 'database', check: async () => void (await ds.query('SELECT 1')) }) });
    }
    if (options.redis) {
      providers.push(RedisService);
      exported.push(RedisService);
      checks.push({ token: RedisService, check: (redis: RedisService) => ({ name: 'redis', check: () => redis.ping() }) });
    }
    if (options.kafka) {
      providers.push(KafkaService, EventConsumerHost);
      exported.push(KafkaService, EventConsumerHost);
      checks.push({ token: KafkaService, check: (kafka: KafkaService) => ({ name: 'kafka', check: () => kafka.ping() }) });
    }
    if (options.outboxRelay) {
      if (!options.database || !options.kafka) throw new Error('the outbox relay needs database and kafka');
      providers.push(OutboxRelay);
      exported.push(OutboxRelay);
    }
    providers.push({
      provide: READINESS_CHECKS,
      inject: checks.map((c) => c.token as never),
      useFactory: (...instances: never[]) => checks.map((c, i) => c.check(instances[i])),
    });

    return { module: PlatformModule, imports, providers, controllers: [HealthController, MetricsController], exports: exported };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('*path');
  }
}
