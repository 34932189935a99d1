import { Body, Controller, INestApplication, Post } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { QueryFailedError } from 'typeorm';
import { ErrorResponseFilter } from '../errors/error-response.filter';
import { configureApp } from './bootstrap';

@Controller()
class EchoController {
  @Post('echo')
  echo(@Body() body: unknown): unknown {
    return { body };
  }

  @Post('refused')
  refused(): never {
    // What pg raises for a value PostgreSQL cannot take (here: a numeric field overflow, class 22).
    throw new QueryFailedError('INSERT', [], Object.assign(new Error('numeric field overflow'), { code: '22003', column: 'amount' }));
  }
}

describe('HTTP JSON bodies', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ controllers: [EchoController], providers: [{ provide: APP_FILTER, useClass: ErrorResponseFilter }] }).compile();
    app = moduleRef.createNestApplication({ bodyParser: false, logger: false });
    configureApp(app, {});
    await app.init();
  });

  afterAll(() => app.close());

  const post = (path: string, raw: string) => request(app.getHttpServer()).post(path).set('Content-Type', 'application/json').send(raw);

  it('turns NUL and unpaired surrogates into U+FFFD, in values and keys, before any handler sees them', async () => {
    const response = await post('/echo', '{"name":"a\\u0000b","list":["\\ud800x",{"k\\u0000":"\\udfff"}],"ok":"Zoë \\u5c71 \\ud83d\\ude00"}');
    expect(response.status).toBe(201);
    expect(response.body.body).toEqual({ name: 'a\uFFFDb', list: ['\uFFFDx', { 'k\uFFFD': '\uFFFD' }], ok: 'Zoë 山 😀' });
  });

  it('leaves a body without escapes as it is', async () => {
    const response = await post('/echo', JSON.stringify({ text: 'x'.repeat(10_000), control: '\t\u0001' }));
    expect(response.body.body).toEqual({ text: 'x'.repeat(10_000), control: '\t\u0001' });
  });

  it('answers a value the database refuses (SQLSTATE class 22 or 23) with 400 naming it, not 500', async () => {
    const response = await post('/refused', '{}');
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'validation_failed', field: 'amount', message: expect.stringContaining('22003') });
  });
});
