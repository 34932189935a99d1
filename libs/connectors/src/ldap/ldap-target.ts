/**
 * For tests and benches: where the stack's LDAP target server is (LDAP_TARGET_* from the environment, or
 * from .stack/stack.env that `npm run stack:up` writes), a connector config for it, and raw admin helpers
 * that make and remove a private container and seed entries without going through the connector.
 */
import { Client, Control } from 'ldapts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LdapConfig, ldapConfigSchema } from './ldap-config';
import { escapeDnValue } from './ldap-dn';

export interface LdapTarget {
  url: string;
  ldapsUrl: string;
  bindDn: string;
  password: string;
  baseDn: string;
  caFile: string;
}

/** Variables from the environment, falling back to the stack's env file (jest run directly). */
export function stackVariable(name: string): string {
  const fromEnv = process.env[name];
  if (fromEnv) return fromEnv;
  const file = join(__dirname, '..', '..', '..', '..', '.stack', 'stack.env');
  if (existsSync(file)) {
    const line = readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${name}=`));
    if (line) return line.slice(name.length + 1).trim();
  }
  return '';
}

export function ldapTarget(): LdapTarget {
  const target = {
    url: stackVariable('LDAP_TARGET_URL'),
    ldapsUrl: stackVariable('LDAP_TARGET_LDAPS_URL'),
    bindDn: stackVariable('LDAP_TARGET_BIND_DN'),
    password: stackVariable('LDAP_TARGET_PASSWORD'),
    baseDn: stackVariable('LDAP_TARGET_BASE_DN'),
    caFile: stackVariable('LDAP_TARGET_CA_FILE'),
  };
  if (!target.url || !target.password) throw new Error('LDAP_TARGET_URL / LDAP_TARGET_PASSWORD are not set and .stack/stack.env has none: run `npm run stack:up`');
  return target;
}

/** A config for the target whose accounts live in `ou=<ou>,ou=people` (a container of the caller's own). */
export function ldapTargetConfig(target: LdapTarget, ou: string, overrides: Partial<Record<string, unknown>> = {}): LdapConfig {
  return ldapConfigSchema.parse({
    url: target.url,
    bindDn: target.bindDn,
    baseDn: target.baseDn,
    accounts: { container: `ou=${escapeDnValue(ou)},ou=people` },
    ...overrides,
  });
}

export async function adminClient(target: LdapTarget): Promise<Client> {
  const client = new Client({ url: target.url, timeout: 60_000 });
  await client.bind(target.bindDn, target.password);
  return client;
}

/** Creates `ou=<ou>,ou=people,<base>`; returns its DN. */
export async function createContainer(target: LdapTarget, ou: string): Promise<string> {
  const dn = `ou=${escapeDnValue(ou)},ou=people,${target.baseDn}`;
  const client = await adminClient(target);
  try {
    await client.add(dn, { objectClass: ['top', 'organizationalUnit'], ou });
  } finally {
    await client.unbind();
  }
  return dn;
}

/** Deletes a container and everything under it in one request (the Subtree Delete control, which the stack's server supports). */
export async function removeContainer(target: LdapTarget, dn: string): Promise<void> {
  const client = await adminClient(target);
  try {
    await client.del(dn, new Control('1.2.840.113556.1.4.805', { critical: true }));
  } finally {
    await client.unbind();
  }
}

/** Adds inetOrgPerson entries `uid=<prefix><i>` under `containerDn`, concurrently over a few connections. */
export async function seedPeople(target: LdapTarget, containerDn: string, prefix: string, count: number): Promise<void> {
  const clients = await Promise.all(Array.from({ length: 4 }, () => adminClient(target)));
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async (_, worker) => {
        const client = clients[worker % clients.length];
        for (let i = next++; i < count; i = next++) {
          const uid = `${prefix}${i}`;
          await client.add(`uid=${escapeDnValue(uid)},${containerDn}`, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], uid, cn: uid, sn: 'Seeded' });
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.unbind().catch(() => undefined)));
  }
}

/** The stack server's test-fault switch (scripts/stack/ldap/TargetDirectory.java, admin only). */
const FAULT_OID = '1.3.6.1.4.1.32473.1.1';

export type LdapFault = 'none' | 'unavailable' | 'server_error' | 'latency';

/** Makes every operation at or below `subtreeDn` fail (or wait `delayMs`) until switched back to 'none'. */
export async function setFault(target: LdapTarget, subtreeDn: string, fault: LdapFault, delayMs = 0): Promise<void> {
  const client = await adminClient(target);
  try {
    await client.exop(FAULT_OID, `${fault} ${Math.round(delayMs)} ${subtreeDn}`);
  } finally {
    await client.unbind();
  }
}
