import { Controller, Get, Header, Injectable, NestMiddleware } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Public } from '../auth/decorators';

/** What a sandbox pool reports of itself (SandboxPool.stats() of @provisio/sandbox). */
export interface SandboxPoolFigures {
  ready: number;
  queued: number;
  inFlight: number;
  replaced: number;
}

/** One Prometheus registry per service, labelled with the service name. */
@Injectable()
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly messagesConsumed: Counter<'topic' | 'result'>;
  readonly deadLettered: Counter<'topic' | 'reason'>;
  readonly outboxPublished: Counter<'topic'>;
  readonly outboxPending: Gauge;
  readonly scriptExecutions: Counter<'trigger' | 'status'>;
  readonly scriptRunDuration: Histogram<'trigger' | 'status'>;

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry, prefix: 'provisio_' });
    this.httpDuration = new Histogram({
      name: 'provisio_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    this.messagesConsumed = new Counter({ name: 'provisio_kafka_messages_consumed_total', help: 'Kafka messages consumed, by result (applied, duplicate, dead_lettered)', labelNames: ['topic', 'result'], registers: [this.registry] });
    this.deadLettered = new Counter({ name: 'provisio_kafka_dead_lettered_total', help: 'Messages sent to a .dlq topic, by reason', labelNames: ['topic', 'reason'], registers: [this.registry] });
    this.outboxPublished = new Counter({ name: 'provisio_outbox_published_total', help: 'Outbox rows published to Kafka', labelNames: ['topic'], registers: [this.registry] });
    this.scriptExecutions = new Counter({ name: 'provisio_script_executions_total', help: 'Script execution attempts finished, by trigger and status (dead_lettered = the last attempt failed)', labelNames: ['trigger', 'status'], registers: [this.registry] });
    this.scriptRunDuration = new Histogram({
      name: 'provisio_script_run_duration_seconds',
      help: 'Time a script run took in the sandbox (its metrics.duration_ms), by trigger and status',
      labelNames: ['trigger', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.outboxPending = new Gauge({ name: 'provisio_outbox_pending', help: 'Outbox rows not yet published (seen by the last relay pass)', registers: [this.registry] });
  }

  /** Exposes a sandbox pool's state, read at every scrape. */
  observeSandboxPool(figures: () => SandboxPoolFigures): void {
    const registers = [this.registry];
    new Gauge({ name: 'provisio_sandbox_workers_ready', help: 'Sandbox worker threads ready to run scripts', registers, collect() { this.set(figures().ready); } });
    new Gauge({ name: 'provisio_sandbox_runs_queued', help: 'Script runs waiting for a sandbox worker', registers, collect() { this.set(figures().queued); } });
    new Gauge({ name: 'provisio_sandbox_runs_in_flight', help: 'Script runs handed to sandbox workers (running or waiting on fetch)', registers, collect() { this.set(figures().inFlight); } });
    let counted = 0;
    new Counter({
      name: 'provisio_sandbox_workers_replaced_total',
      help: 'Sandbox worker threads replaced (stuck past a deadline, faulted or crashed)',
      registers,
      collect() {
        const { replaced } = figures();
        if (replaced > counted) this.inc(replaced - counted);
        counted = replaced;
      },
    });
  }
}

@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @Public()
  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}

@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: Metrics) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const end = this.metrics.httpDuration.startTimer();
    res.on('finish', () => {
      // The matched route pattern, not the raw URL, keeps label cardinality bounded.
      const route = (req as Request & { route?: { path?: string } }).route?.path ?? 'unmatched';
      end({ method: req.method, route: `${req.baseUrl}${route}`, status: String(res.statusCode) });
    });
    next();
  }
}
