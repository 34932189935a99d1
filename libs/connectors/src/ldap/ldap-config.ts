/**
 * What an LDAP connector is configured with (stored as it is) and what it binds with (the password, a
 * credential: encrypted by the connector API, never returned). Validated by zod; defaults filled here so
 * the connector reads one complete shape.
 */
import { z } from 'zod';
import { connectorLimitsSchema } from '../connector-types';
import { splitDn } from './ldap-dn';

const attributeName = z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'must be an LDAP attribute name');
const dn = z
  .string()
  .min(1)
  .max(1000)
  .refine((value) => {
    try {
      return splitDn(value).length > 0;
    } catch {
      return false;
    }
  }, 'must be a DN (e.g. "dc=example,dc=com")');

const objectClassConfig = (container: string, rdnAttribute: string, objectClasses: string[]) =>
  z
    .object({
      /** Where new objects are created and searched, relative to baseDn (`ou=people`), or '' for baseDn itself. */
      container: z.string().max(1000).default(container),
      /** The attribute that names an object in its container (`uid`, `cn`); create needs a value for it. */
      rdnAttribute: attributeName.default(rdnAttribute),
      /** objectClass values of a new object; the last one is the one searches match (`(objectClass=inetOrgPerson)`). */
      objectClasses: z.array(attributeName).min(1).max(20).default(objectClasses),
    })
    .strict()
    .default({ container, rdnAttribute, objectClasses });

/** How enable/disable is written, and how `enabled` is read back. */
const enableSchema = z
  .object({
    /** The attribute that marks an account disabled (default nsAccountLock, as 389 DS / Red Hat DS and the stack's server have it). */
    attribute: attributeName.default('nsAccountLock'),
    /** Its value while disabled (nsAccountLock: TRUE; OpenLDAP ppolicy pwdAccountLockedTime: 000001010000Z, locked until unlocked). */
    disabledValue: z.string().min(1).max(1000).default('TRUE'),
    /** Its value while enabled; null: the attribute is removed (the account is enabled when it is absent). */
    enabledValue: z.string().min(1).max(1000).nullable().default(null),
  })
  .strict()
  .default({ attribute: 'nsAccountLock', disabledValue: 'TRUE', enabledValue: null });

export const ldapConfigSchema = z
  .object({
    /** ldap://host:389 (StartTLS optional) or ldaps://host:636. */
    url: z
      .string()
      .max(1000)
      .regex(/^ldaps?:\/\/[^/?#@\s]+\/?$/, 'must be ldap://host[:port] or ldaps://host[:port] (no path, no credentials)'),
    /** Upgrade an ldap:// connection with StartTLS before binding. */
    startTls: z.boolean().default(false),
    tls: z
      .object({
        /** PEM of the CA (or self-signed certificate) to trust, for a private PKI. */
        ca: z.string().max(100_000).optional(),
        /** Verify the server's certificate (keep true outside tests). */
        rejectUnauthorized: z.boolean().default(true),
        /** The name the certificate must carry, when it is not the URL's host. */
        servername: z.string().max(255).optional(),
      })
      .strict()
      .default({ rejectUnauthorized: true }),
    /** The DN the connector binds as (simple bind); its password is the credential. */
    bindDn: dn,
    /** The subtree the connector works in: every DN it reads or writes lies under it. */
    baseDn: dn,
    accounts: objectClassConfig('ou=people', 'uid', ['top', 'person', 'organizationalPerson', 'inetOrgPerson']),
    groups: objectClassConfig('ou=groups', 'cn', ['top', 'groupOfNames']),
    enable: enableSchema,
    /** Entries per page a search delivers, unless the search asks for another size. */
    pageSize: z.number().int().min(1).max(10_000).default(500),
    /**
     * Entries asked of the server per Simple Paged Results request (at least pageSize; a server may cap it, as
     * Active Directory does at 1,000). Larger means fewer round trips, and far fewer passes on servers that
     * evaluate the whole search again for every page (the UnboundID in-memory server does); one such page is
     * held in memory at a time.
     */
    serverPageSize: z.number().int().min(1).max(100_000).default(10_000),
    /**
     * How far a delta watermark is set back from the newest modifyTimestamp seen: changes made while a delta
     * search ran, and a server clock a little behind ours, are read again rather than missed.
     */
    deltaOverlapMs: z.number().int().min(0).max(3_600_000).default(1000),
    limits: connectorLimitsSchema.default({ maxConnections: 4, maxConcurrency: 16, timeoutMs: 30_000 }),
  })
  .strict()
  .refine((config) => !(config.startTls && config.url.startsWith('ldaps:')), { message: 'startTls is for ldap:// URLs (ldaps:// is TLS from the start)', path: ['startTls'] });

export type LdapConfig = z.infer<typeof ldapConfigSchema>;

export const ldapCredentialsSchema = z.object({ password: z.string().min(1).max(10_000) }).strict();

export type LdapCredentials = z.infer<typeof ldapCredentialsSchema>;
