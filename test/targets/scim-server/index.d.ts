// Types of the fixture SCIM server (scim-server.js) for TypeScript tests.
import type { Express } from 'express';

export interface ScimServerOptions {
  /** Bearer token accepted. */
  token?: string;
  /** Basic credentials accepted. */
  basic?: { username: string; password: string };
  /** Advertise and serve /Bulk (default true). */
  bulk?: boolean;
  /** Largest page (default 1000). */
  maxResults?: number;
}

export interface FaultSpec {
  latencyMs?: number;
  rateLimit?: { retryAfterSeconds: number; forSeconds?: number };
  unavailable?: { retryAfterSeconds?: number; forSeconds?: number };
  serverError?: { status?: number; forSeconds?: number };
  redirect?: { to?: string; forSeconds?: number };
  truncatedPage?: { forSeconds?: number };
  methods?: ('GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE')[];
}

export interface ScimStoredResource {
  id: string;
  meta: { resourceType: string; created: string; lastModified: string; location: string; version: string };
  [attribute: string]: unknown;
}

export interface ScimResourceStore {
  readonly size: number;
  create(data: Record<string, unknown>, now?: Date): ScimStoredResource;
  get(id: string): ScimStoredResource | null;
  clear(): void;
}

export interface ScimServer {
  app: Express;
  stores: { User: ScimResourceStore; Group: ScimResourceStore };
  faults: { set(spec: FaultSpec): FaultSpec; clear(): void; describe(): FaultSpec };
  stats: { requests: number; byMethod: Record<string, number>; lastRequestAt: string | null };
  listen(port?: number, host?: string): Promise<{ url: string; port: number; close(): Promise<void> }>;
  close(): Promise<void>;
}

export function createScimServer(options: ScimServerOptions): ScimServer;
