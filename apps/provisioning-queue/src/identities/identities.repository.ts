import { Injectable } from '@nestjs/common';
import type { AccountLink, Connector, Identity, IdentityStatus, TenantScoped, TenantTransaction } from '@provisio/persistence';
import { toStorableJson, SqlFilters } from '@provisio/platform';

/**
 * An `identities` row, as every statement of this repository returns it: the entity's columns, with
 * `source_version` (BIGINT) read as a number (upstream versions are safe integers, checked by the event
 * schema).
 */
export type IdentityRow = Omit<
  Pick<Identity, 'id' | 'tenant_id' | 'username' | 'email' | 'display_name' | 'status' | 'attributes' | 'source_user_id' | 'source_version' | 'source_event_time' | 'created_at' | 'updated_at'>,
  'source_version'
> & { source_version: number | null };

/** The fields a write sets; `attributes` is the whole new object. */
export type IdentityValues = Pick<IdentityRow, 'username' | 'email' | 'display_name' | 'status' | 'attributes' | 'source_user_id' | 'source_version' | 'source_event_time'>;

export interface IdentityFilter {
  status?: IdentityStatus;
  username?: string;
  email?: string;
  source_user_id?: string;
  attributes?: Record<string, unknown>;
  updated_since?: Date;
  sort?: 'username' | 'created_at' | 'updated_at';
}

/** An `account_links` row with its connector's name and type. */
export type AccountLinkRow = Pick<AccountLink, 'id' | 'identity_id' | 'connector_id' | 'object_class' | 'external_uid' | 'attributes_hash' | 'last_synced_at' | 'linked_at'> & {
  connector_name: Connector['name'];
  connector_type: Connector['type'];
};

const COLUMNS = `id, tenant_id, username, email, display_name, status, attributes, source_user_id, source_version::float8 AS source_version,
  source_event_time, created_at, updated_at`;

export const IDENTITY_UNIQUES = {
  uq_identities_tenant_username: { field: 'username', message: 'an identity with this username exists in the tenant' },
  uq_identities_tenant_source_user: { field: 'source_user_id', message: 'an identity with this source_user_id exists in the tenant' },
};

/**
 * Every statement on `identities` (and the identity side of `account_links`). Tenant-scoped: each one
 * filters or inserts `tenant_id = $1` (TenantScoped checks it). Text reaches PostgreSQL through
 * `toStorableJson` (attributes), so a NUL or a lone surrogate from outside never fails a write.
 */
@Injectable()
export class IdentitiesRepository {
  async find(db: TenantScoped, id: string): Promise<IdentityRow | undefined> {
    return db.one<IdentityRow>(`SELECT ${COLUMNS} FROM identities WHERE tenant_id = $1 AND id = $2`, [id]);
  }

  /** The row, locked until the transaction ends (the write that follows sees the latest state). */
  async lock(tx: TenantTransaction, id: string): Promise<IdentityRow | undefined> {
    return tx.one<IdentityRow>(`SELECT ${COLUMNS} FROM identities WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [id]);
  }

  async lockBySourceUser(tx: TenantTransaction, sourceUserId: string): Promise<IdentityRow | undefined> {
    return tx.one<IdentityRow>(`SELECT ${COLUMNS} FROM identities WHERE tenant_id = $1 AND source_user_id = $2 FOR UPDATE`, [sourceUserId]);
  }

  /**
   * The identities of any of `sourceUserIds` or `usernames`, locked (one statement for what lockBySourceUser
   * and lockByUsername would read one at a time; a row found by both kinds of key comes twice). Each key is
   * looked up through its index, whatever the statistics say: a locking LATERAL subquery is never flattened.
   */
  async lockMany(tx: TenantTransaction, sourceUserIds: string[], usernames: string[]): Promise<IdentityRow[]> {
    if (sourceUserIds.length + usernames.length === 0) return [];
    return tx.query<IdentityRow>(
      `SELECT f.* FROM unnest($2::text[]) AS k(v) CROSS JOIN LATERAL (SELECT ${COLUMNS} FROM identities WHERE tenant_id = $1 AND source_user_id = k.v FOR UPDATE) f
       UNION ALL
       SELECT f.* FROM unnest($3::text[]) AS k(v) CROSS JOIN LATERAL (SELECT ${COLUMNS} FROM identities WHERE tenant_id = $1 AND username = k.v FOR UPDATE) f`,
      [[...sourceUserIds].sort(), [...usernames].sort()],
    );
  }

  async lockByUsername(tx: TenantTransaction, username: string): Promise<IdentityRow | undefined> {
    return tx.one<IdentityRow>(`SELECT ${COLUMNS} FROM identities WHERE tenant_id = $1 AND username = $2 FOR UPDATE`, [username]);
  }

  async insert(tx: TenantTransaction, values: IdentityValues): Promise<IdentityRow> {
    const row = await tx.one<IdentityRow>(
      `INSERT INTO identities (tenant_id, username, email, display_name, status, attributes, source_user_id, source_version, source_event_time)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9) RETURNING ${COLUMNS}`,
      this.params(values),
    );
    return row!;
  }

  async update(tx: TenantTransaction, id: string, values: IdentityValues): Promise<IdentityRow> {
    const row = await tx.one<IdentityRow>(
      `UPDATE identities SET username = $2, email = $3, display_name = $4, status = $5, attributes = $6::jsonb, source_user_id = $7,
              source_version = $8, source_event_time = $9, updated_at = now()
        WHERE tenant_id = $1 AND id = $10 RETURNING ${COLUMNS}`,
      [...this.params(values), id],
    );
    return row!;
  }

  async delete(tx: TenantTransaction, id: string): Promise<void> {
    await tx.execute('DELETE FROM identities WHERE tenant_id = $1 AND id = $2', [id]);
  }

  async list(db: TenantScoped, filter: IdentityFilter, page: { limit: number; offset: number }): Promise<{ rows: IdentityRow[]; total: number }> {
    const filters = new SqlFilters();
    if (filter.status) filters.add('status = ?', filter.status);
    if (filter.username !== undefined) filters.add('username = ?', filter.username);
    if (filter.email !== undefined) filters.add('lower(email) = lower(?)', filter.email);
    if (filter.source_user_id !== undefined) filters.add('source_user_id = ?', filter.source_user_id);
    if (filter.attributes && Object.keys(filter.attributes).length) filters.add('attributes @> ?::jsonb', toStorableJson(filter.attributes));
    if (filter.updated_since) filters.add('updated_at >= ?', filter.updated_since);
    const order = filter.sort === 'created_at' ? 'created_at, id' : filter.sort === 'updated_at' ? 'updated_at, id' : 'username, id';
    const paged = filters.page(page);
    const [rows, [{ total }]] = await Promise.all([
      db.query<IdentityRow>(`SELECT ${COLUMNS} FROM identities WHERE ${filters.where} ORDER BY ${order} ${paged.sql}`, paged.params),
      db.query<{ total: number }>(`SELECT count(*)::int AS total FROM identities WHERE ${filters.where}`, filters.params),
    ]);
    return { rows, total };
  }

  async accounts(db: TenantScoped, identityId: string, page: { limit: number; offset: number }): Promise<{ rows: AccountLinkRow[]; total: number }> {
    const [rows, [{ total }]] = await Promise.all([
      db.query<AccountLinkRow>(
        `SELECT l.id, l.identity_id, l.connector_id, c.name AS connector_name, c.type AS connector_type, l.object_class, l.external_uid,
                l.attributes_hash, l.last_synced_at, l.linked_at
           FROM account_links l JOIN connectors c ON c.id = l.connector_id
          WHERE l.tenant_id = $1 AND l.identity_id = $2
          ORDER BY c.name, l.object_class, l.id LIMIT $3 OFFSET $4`,
        [identityId, page.limit, page.offset],
      ),
      db.query<{ total: number }>('SELECT count(*)::int AS total FROM account_links WHERE tenant_id = $1 AND identity_id = $2', [identityId]),
    ]);
    return { rows, total };
  }

  private params(values: IdentityValues): unknown[] {
    return [
      values.username,
      values.email,
      values.display_name,
      values.status,
      toStorableJson(values.attributes),
      values.source_user_id,
      values.source_version,
      values.source_event_time,
    ];
  }
}
