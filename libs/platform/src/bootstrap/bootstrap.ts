import { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import express, { NextFunction, Request, Response } from 'express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { ShutdownState } from '../health/health';
import { ValidationError } from '../errors/domain-errors';
import { createValidationPipe } from '../http/validation';
import { toStorable } from '../storable/storable-text';

export interface BootstrapOptions {
  service: string;
  port: number;
  host: string;
  shutdownTimeoutMs: number;
  /** OpenAPI docs at /docs (services with an HTTP API). */
  docs?: { title: string; description: string; version?: string };
}

/**
 * Largest JSON body accepted (413 `payload_too_large` beyond). Express's default is 100 kB, less than a
 * script source of 100,000 characters once JSON-escaped; 1 MB leaves room for that and its context.
 */
export const JSON_BODY_LIMIT = '1mb';

/**
 * Express's JSON parser with our limit, answering a body that is not JSON with a 400 that says so (Nest
 * would pass on the bare `JSON.parse` message). Named `jsonParser` so Nest does not add its own.
 */
function jsonBodyParser() {
  // A NUL or an unpaired surrogate can only arrive as a `\u` escape: bodies without one are not walked.
  const escaped = new WeakSet<Request>();
  const parse = express.json({
    limit: JSON_BODY_LIMIT,
    verify: (req, _res, raw) => {
      if (raw.includes('\\u')) escaped.add(req as Request);
    },
  });
  return function jsonParser(req: Request, res: Response, next: NextFunction): void {
    parse(req, res, (error?: unknown) => {
      const failed = error as { type?: string; message?: string } | undefined;
      if (failed?.type === 'entity.parse.failed') return next(new ValidationError(`the request body is not valid JSON: ${failed.message}`, 'body'));
      // The one escaping of text PostgreSQL refuses (docs/api.md): NUL and unpaired surrogates become U+FFFD.
      if (!error && escaped.has(req)) req.body = toStorable(req.body);
      next(error);
    });
  };
}

/** Applies what every HTTP app needs; shared by `bootstrapService` and integration tests. */
export function configureApp(app: INestApplication, options: Pick<BootstrapOptions, 'docs'>): void {
  app.use(jsonBodyParser());
  app.useGlobalPipes(createValidationPipe());
  if (options.docs) {
    const document = SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle(options.docs.title)
        .setDescription(options.docs.description)
        .setVersion(options.docs.version ?? '1')
        .addBearerAuth()
        .addSecurityRequirements('bearer')
        .build(),
    );
    SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
  }
}

/**
 * Starts a service: JSON logs, validation, OpenAPI, and a graceful SIGTERM: readiness turns false at
 * once, consumers leave their groups after in-flight messages finish, the HTTP server drains, and a
 * timer forces the exit if something hangs.
 */
export async function bootstrapService(module: Type<unknown> | DynamicModule, options: BootstrapOptions): Promise<INestApplication> {
  const app = await NestFactory.create(module, { bufferLogs: true });
  app.useLogger(app.get(Logger));
  configureApp(app, options);

  // Our own handler rather than enableShutdownHooks: Nest re-raises the signal after closing, which makes
  // a clean shutdown look like a kill (exit by signal); we exit 0 once everything has closed.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      app.get(ShutdownState).beginShutdown();
      setTimeout(() => {
        app.get(Logger).error(`shutdown took longer than ${options.shutdownTimeoutMs} ms; exiting`);
        process.exit(1);
      }, options.shutdownTimeoutMs).unref();
      app
        .close()
        .then(() => process.exit(0))
        .catch((error: unknown) => {
          process.stderr.write(`shutdown failed: ${(error as Error).stack}\n`);
          process.exit(1);
        });
    });
  }

  await app.listen(options.port, options.host);
  app.get(Logger).log({ message: `${options.service} ready`, port: options.port, docs: options.docs ? `/docs` : undefined });
  return app;
}
