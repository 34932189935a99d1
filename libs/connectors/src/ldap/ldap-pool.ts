/**
 * A pool of bound ldapts clients. LDAP multiplexes operations on one connection (message ids), so calls are
 * spread round-robin over `size` connections rather than each taking one for itself; the governor caps how
 * many are in flight. A connection that dropped is replaced (connect, StartTLS, bind) on its next use.
 */
import { Client } from 'ldapts';
import type { ConnectionOptions } from 'node:tls';
import { toConnectorError } from './ldap-errors';

export interface LdapPoolOptions {
  url: string;
  startTls: boolean;
  tlsOptions: ConnectionOptions;
  bindDn: string;
  password: string;
  size: number;
  timeoutMs: number;
}

export class LdapClientPool {
  private readonly slots: Array<Promise<Client> | null>;
  private next = 0;
  private closed = false;

  constructor(private readonly options: LdapPoolOptions) {
    this.slots = Array.from({ length: Math.max(1, options.size) }, () => null);
  }

  /** A bound client (shared with other callers: never unbind it). */
  async client(): Promise<Client> {
    if (this.closed) throw new Error('the LDAP connection pool is closed');
    const index = this.next;
    this.next = (this.next + 1) % this.slots.length;
    const slot = this.slots[index];
    if (slot) {
      const client = await slot.catch(() => null);
      if (client?.isConnected) return client;
    }
    const fresh = this.connect();
    this.slots[index] = fresh;
    fresh.catch(() => {
      if (this.slots[index] === fresh) this.slots[index] = null;
    });
    return fresh;
  }

  /** A new bound client for the caller alone (a paged search holds its connection for the cookie's life). */
  async dedicated(): Promise<Client> {
    if (this.closed) throw new Error('the LDAP connection pool is closed');
    return this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    const clients = await Promise.all(this.slots.map((slot) => slot?.catch(() => null)));
    this.slots.fill(null);
    await Promise.all(clients.map((client) => client?.unbind().catch(() => undefined)));
  }

  private async connect(): Promise<Client> {
    const { url, startTls, tlsOptions, bindDn, password, timeoutMs } = this.options;
    const client = new Client({
      url,
      timeout: timeoutMs,
      connectTimeout: Math.min(timeoutMs, 10_000),
      tlsOptions: url.startsWith('ldaps:') ? tlsOptions : undefined,
      strictDN: false,
    });
    try {
      if (startTls) await client.startTLS(tlsOptions);
      await client.bind(bindDn, password);
      return client;
    } catch (error) {
      await client.unbind().catch(() => undefined);
      throw toConnectorError(error, `bind as ${bindDn}`);
    }
  }
}
