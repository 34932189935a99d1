import { Controller, Get, Inject, Injectable, OnApplicationShutdown, Optional } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { Public } from '../auth/decorators';

/** A dependency readiness depends on (database, Redis, Kafka ...). */
export interface ReadinessCheck {
  readonly name: string;
  /** Resolves when healthy, rejects (or times out) when not. */
  check(): Promise<void>;
}
export const READINESS_CHECKS = Symbol('READINESS_CHECKS');

const CHECK_TIMEOUT_MS = 3_000;

/** Flips readiness off as soon as shutdown begins, so Kubernetes stops routing before the server closes. */
@Injectable()
export class ShutdownState implements OnApplicationShutdown {
  shuttingDown = false;
  beginShutdown(): void {
    this.shuttingDown = true;
  }
  onApplicationShutdown(): void {
    this.shuttingDown = true;
  }
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly shutdown: ShutdownState,
    @Optional() @Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[] = [],
  ) {}

  /** Liveness: the process answers. Never checks dependencies (that would restart pods during an outage). */
  @Public()
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([async () => this.indicator.check('process').up({ uptime_s: Math.round(process.uptime()) })]);
  }

  /** Readiness: every dependency this service uses answers. */
  @Public()
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      async () => (this.shutdown.shuttingDown ? this.indicator.check('lifecycle').down({ message: 'shutting down' }) : this.indicator.check('lifecycle').up()),
      ...this.checks.map((dependency) => () => this.probe(dependency)),
    ]);
  }

  private async probe(dependency: ReadinessCheck): Promise<HealthIndicatorResult> {
    const session = this.indicator.check(dependency.name);
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        dependency.check(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS))),
      ]);
      return session.up({ latency_ms: Date.now() - started });
    } catch (error) {
      return session.down({ message: error instanceof Error ? error.message : String(error) });
    } finally {
      clearTimeout(timer);
    }
  }
}
