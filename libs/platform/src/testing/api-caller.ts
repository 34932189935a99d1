import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { signDevToken } from '../auth/token-verifier';
import { TEST_JWT_SECRET } from './index';

/**
 * Requests to a test app as one principal (tests only): a development token of `tenantId`, `subject` and
 * `permissions`, signed with the tests' secret. Apps extend it with builders of their own objects.
 */
export class ApiCaller {
  readonly token: string;

  constructor(
    protected readonly app: INestApplication,
    readonly tenantId: string,
    readonly subject: string,
    readonly permissions: string[],
  ) {
    this.token = signDevToken(TEST_JWT_SECRET, { sub: subject, tenant_id: tenantId, permissions });
  }

  /** The same tenant and subject with other permissions (an instance of the same subclass). */
  with(permissions: string[]): this {
    const Same = this.constructor as new (app: INestApplication, tenantId: string, subject: string, permissions: string[]) => this;
    return new Same(this.app, this.tenantId, this.subject, permissions);
  }

  get(path: string, query?: Record<string, unknown> | string) {
    const req = request(this.app.getHttpServer()).get(path).set('Authorization', `Bearer ${this.token}`);
    return query === undefined ? req : req.query(query);
  }

  post(path: string, body: unknown = {}) {
    return request(this.app.getHttpServer()).post(path).set('Authorization', `Bearer ${this.token}`).send(body as object);
  }

  put(path: string, body: unknown = {}) {
    return request(this.app.getHttpServer()).put(path).set('Authorization', `Bearer ${this.token}`).send(body as object);
  }

  patch(path: string, body: unknown = {}) {
    return request(this.app.getHttpServer()).patch(path).set('Authorization', `Bearer ${this.token}`).send(body as object);
  }

  delete(path: string) {
    return request(this.app.getHttpServer()).delete(path).set('Authorization', `Bearer ${this.token}`);
  }
}
