// The fixture server's in-memory resources (Users, Groups): what scimmy's ingress/egress/degress handlers
// read and write, plus the fast paths scimmy has none of (a uniqueness index, list pages served from
// each resource's JSON kept ready, a bulk seed that skips per-resource schema coercion).
'use strict';
const { randomUUID } = require('node:crypto');

class ScimStoreError extends Error {
  constructor(status, scimType, message) {
    super(message);
    this.status = status;
    this.scimType = scimType;
  }
}

class ResourceStore {
  /**
   * @param {{ resourceType: 'User'|'Group', schema: string, endpoint: string, uniqueAttribute: string }} kind
   */
  constructor(kind) {
    this.kind = kind;
    /** id -> { resource, json, version } */
    this.byId = new Map();
    /** lower-cased unique attribute (userName, displayName) -> id */
    this.unique = new Map();
    /** The records in creation order (a list page is a slice of it); rebuilt after deletes, lazily. */
    this.order = [];
    this.orderDirty = false;
    /** Prefix of meta.location (`http://host:port/scim`), set when the server listens. */
    this.base = '';
  }

  get size() {
    return this.byId.size;
  }

  uniqueKey(data) {
    const value = data[this.kind.uniqueAttribute];
    return typeof value === 'string' ? value.toLowerCase() : null;
  }

  /** Stores a new resource from plain SCIM attributes (no id, no meta); returns the stored resource. */
  create(data, now = new Date()) {
    const key = this.uniqueKey(data);
    if (key === null) throw new ScimStoreError(400, 'invalidValue', `${this.kind.uniqueAttribute} is required`);
    if (this.unique.has(key)) throw new ScimStoreError(409, 'uniqueness', `a ${this.kind.resourceType} with this ${this.kind.uniqueAttribute} exists`);
    const id = randomUUID();
    const stamp = now.toISOString();
    const record = this.record(id, data, { created: stamp, lastModified: stamp }, 1);
    this.byId.set(id, record);
    this.unique.set(key, id);
    if (!this.orderDirty) this.order.push(record);
    return record.resource;
  }

  /** Replaces a resource's attributes (PUT, or the result of a PATCH); keeps `created`, bumps the version. */
  replace(id, data, now = new Date()) {
    const current = this.byId.get(id);
    if (!current) throw new ScimStoreError(404, null, `${this.kind.resourceType} ${id} not found`);
    const oldKey = this.uniqueKey(current.resource);
    const key = this.uniqueKey(data);
    if (key === null) throw new ScimStoreError(400, 'invalidValue', `${this.kind.uniqueAttribute} is required`);
    if (key !== oldKey && this.unique.has(key)) throw new ScimStoreError(409, 'uniqueness', `a ${this.kind.resourceType} with this ${this.kind.uniqueAttribute} exists`);
    // Changed in place: the record keeps its place in `order`.
    Object.assign(current, this.record(id, data, { created: current.resource.meta.created, lastModified: now.toISOString() }, current.version + 1));
    if (key !== oldKey) {
      this.unique.delete(oldKey);
      this.unique.set(key, id);
    }
    return current.resource;
  }

  delete(id) {
    const current = this.byId.get(id);
    if (!current) throw new ScimStoreError(404, null, `${this.kind.resourceType} ${id} not found`);
    this.byId.delete(id);
    this.unique.delete(this.uniqueKey(current.resource));
    this.orderDirty = true;
  }

  get(id) {
    return this.byId.get(id)?.resource ?? null;
  }

  /** The ETag of a resource (its meta.version), or null when there is none with this id. */
  version(id) {
    return this.byId.get(id)?.resource.meta.version ?? null;
  }

  findByUnique(value) {
    const id = typeof value === 'string' ? this.unique.get(value.toLowerCase()) : undefined;
    return id === undefined ? null : this.byId.get(id);
  }

  clear() {
    this.byId.clear();
    this.unique.clear();
    this.order = [];
    this.orderDirty = false;
  }

  /** Records in creation order (deleted ones dropped lazily). The store's own array: do not change it. */
  records() {
    if (this.orderDirty) {
      this.order = [...this.byId.values()];
      this.orderDirty = false;
    }
    return this.order;
  }

  /** JSON of a record, kept until the record changes (a list page is these strings joined). */
  json(record) {
    if (record.json === null) record.json = JSON.stringify(record.resource);
    return record.json;
  }

  record(id, data, stamps, version) {
    const { schemas: _schemas, id: _id, meta: _meta, ...attributes } = data;
    const resource = {
      schemas: [this.kind.schema, ...extensionSchemas(attributes)],
      id,
      ...attributes,
      meta: {
        resourceType: this.kind.resourceType,
        created: stamps.created,
        lastModified: stamps.lastModified,
        location: `${this.base}${this.kind.endpoint}/${id}`,
        version: `W/"${version}"`,
      },
    };
    return { resource, json: null, version };
  }
}

function extensionSchemas(attributes) {
  return Object.keys(attributes).filter((name) => name.startsWith('urn:'));
}

function createStores() {
  return {
    User: new ResourceStore({ resourceType: 'User', schema: 'urn:ietf:params:scim:schemas:core:2.0:User', endpoint: '/Users', uniqueAttribute: 'userName' }),
    Group: new ResourceStore({ resourceType: 'Group', schema: 'urn:ietf:params:scim:schemas:core:2.0:Group', endpoint: '/Groups', uniqueAttribute: 'displayName' }),
  };
}

module.exports = { ResourceStore, ScimStoreError, createStores };
