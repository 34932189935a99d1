// Connector benchmark: per connector type, through the BUILT @provisio/connectors against its local target
// server, (1) writes per second: N creates, then N updates (PATCH of one attribute), then N deletes, each
// call on its own with --concurrency in flight (the provisioning queue's way; Bulk batches are measured
// apart, as *_bulk_writes_per_s); (2) accounts read per second by a paged search through --accounts
// seeded accounts (median of --trials full passes).
//
//   npm run bench:connectors            (builds, then runs this)
//   node bench/connectors.mjs [--writes 3000] [--accounts 50000] [--concurrency 32] [--trials 3] [--only scim,ldap]
//                             [--scim-stack] [--profile]
//
// SCIM: by default a private fixture server (test/targets/scim-server) in a child process on a free port,
// so the bench neither fills nor faults the stack's shared one; --scim-stack uses SCIM_TARGET_URL and
// SCIM_TARGET_TOKEN instead (environment, else .stack/stack.env). --profile writes a CPU profile of that
// server process to .stack/bench-profiles and prints where its time went.
// LDAP and SQL: a section each; a type whose connector is not registered yet is skipped and said so.
// Floors on a 2-core machine: SCIM >= 500 writes/s, LDAP >= 1,000, SQL >= 5,000 (batched); reads >= 20,000/s.
// Everything but the last line is for people; the LAST line is one JSON object.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(ROOT, 'package.json'));
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const WRITES = arg('writes', 3000);
const ACCOUNTS = arg('accounts', 50_000);
const CONCURRENCY = arg('concurrency', 32);
const TRIALS = arg('trials', 3);
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : null;
const PROFILE = args.includes('--profile');
const FLOOR = { scim_writes_per_s: 500, ldap_writes_per_s: 1000, sql_writes_per_s: 5000, reads_per_s: 20_000 };
const TYPES = ['scim', 'ldap', 'sql'];

const say = (message) => process.stdout.write(`[bench:connectors] ${message}\n`);
const round = (n) => (n === null || n === undefined ? null : Math.round(n));

function stackEnv() {
  const file = join(ROOT, '.stack', 'stack.env');
  const values = {};
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
      if (m) values[m[1]] = m[2];
    }
  }
  return (name) => process.env[name] || values[name] || '';
}
const env = stackEnv();

// --- targets: how each type is reached and seeded -----------------------------------------------------

/** A private fixture SCIM server in a child process: { url, token, admin(), stop() }. */
async function startScimServer() {
  const token = randomBytes(16).toString('hex');
  const profileDir = join(ROOT, '.stack', 'bench-profiles');
  if (PROFILE) mkdirSync(profileDir, { recursive: true });
  const nodeArgs = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, 'test', 'targets', 'scim-server', 'main.js'), '--port', '0'], {
    env: { ...process.env, SCIM_TARGET_TOKEN: token },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /listening (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`the SCIM server exited (${code}) before listening`)));
  });
  const stop = async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    if (PROFILE) summariseProfile(profileDir);
  };
  return { url, token, stop };
}

const targets = {
  async scim() {
    const useStack = args.includes('--scim-stack');
    const server = useStack ? { url: env('SCIM_TARGET_URL'), token: env('SCIM_TARGET_TOKEN'), stop: async () => {} } : await startScimServer();
    if (!server.url || !server.token) return { skip: 'SCIM_TARGET_URL / SCIM_TARGET_TOKEN are not set (run `npm run stack:up`)' };
    const origin = new URL(server.url).origin;
    let seededPrefix = null;
    // On the stack's shared server, the accounts this run seeded are deleted again (by their prefix).
    const stop = async () => {
      if (useStack && seededPrefix) {
        await fetch(`${origin}/_admin/resources?resourceType=User&prefix=${encodeURIComponent(seededPrefix)}`, { method: 'DELETE', headers: { authorization: `Bearer ${server.token}` } });
      }
      await server.stop();
    };
    return {
      where: `${server.url}${useStack ? ' (the stack\'s)' : ' (private, child process)'}`,
      config: { baseUrl: server.url, auth: 'bearer', pageSize: 1000, limits: { maxConnections: 16, maxConcurrency: CONCURRENCY, timeoutMs: 30_000 } },
      credentials: { token: server.token },
      account: (key) => ({ userName: key, displayName: key, active: true, emails: [{ value: `${key}@bench.test`, primary: true }] }),
      mutable: 'displayName',
      async seed(prefix, count) {
        seededPrefix = prefix;
        for (let done = 0; done < count; done += 100_000) {
          const response = await fetch(`${origin}/_admin/seed`, {
            method: 'POST',
            headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ prefix: `${prefix}${done}-`, count: Math.min(100_000, count - done) }),
          });
          if (!response.ok) throw new Error(`seeding the SCIM server: HTTP ${response.status} ${await response.text()}`);
        }
      },
      stop,
    };
  },
  // LDAP: the stack's UnboundID server (LDAP_TARGET_*), in a container of the bench's own, removed after.
  async ldap() {
    const url = env('LDAP_TARGET_URL');
    const password = env('LDAP_TARGET_PASSWORD');
    if (!url || !password) return { skip: 'LDAP_TARGET_URL / LDAP_TARGET_PASSWORD are not set (run `npm run stack:up`)' };
    const { createContainer, removeContainer, seedPeople } = require(join(ROOT, 'libs', 'connectors', 'dist', 'ldap', 'ldap-target.js'));
    const target = { url, bindDn: env('LDAP_TARGET_BIND_DN'), password, baseDn: env('LDAP_TARGET_BASE_DN') };
    const ou = `bench-${randomBytes(4).toString('hex')}`;
    const containerDn = await createContainer(target, ou);
    const config = {
      url,
      bindDn: target.bindDn,
      baseDn: target.baseDn,
      accounts: { container: `ou=${ou},ou=people` },
      pageSize: 1000,
      limits: { maxConnections: 4, maxConcurrency: CONCURRENCY, timeoutMs: 30_000 },
    };
    return {
      where: `${url} (the stack's UnboundID in-memory server, ${containerDn})`,
      // The in-memory server evaluates the whole search again for every Simple Paged Results page, so its
      // reads are measured with server pages that hold all the accounts (the connector still delivers pages
      // of 1000), and again with the default server pages of 10,000 (ldap_reads_default_server_pages_per_s).
      config: { ...config, serverPageSize: Math.max(ACCOUNTS, 10_000) },
      alsoRead: { label: 'default_server_pages', config },
      credentials: { password },
      account: (key) => ({ uid: key, cn: key, sn: 'Bench', description: key }),
      mutable: 'description',
      seed: (prefix, count) => seedPeople(target, containerDn, prefix, count),
      stop: () => removeContainer(target, containerDn),
    };
  },
  // SQL: a table of a random name in the stack's provisio_targets database (PostgreSQL; MariaDB as sql_mariadb),
  // dropped after. Its writes floor is for batched writes: writeBatch runs of 500 creates, updates, deletes.
  sql: () => sqlTarget('postgres'),
  sql_mariadb: () => sqlTarget('mariadb'),
};

async function sqlTarget(dialect) {
  const url = env(dialect === 'postgres' ? 'SQL_TARGET_PG_URL' : 'SQL_TARGET_MARIADB_URL');
  if (!url) return { skip: `${dialect === 'postgres' ? 'SQL_TARGET_PG_URL' : 'SQL_TARGET_MARIADB_URL'} is not set (run \`npm run stack:up\`)` };
  const sql = require(join(ROOT, 'libs', 'connectors', 'dist', 'sql', 'sql-target.js'));
  const target = { dialect, url };
  const table = await sql.createAccountsTable(target, 'bench');
  const { config, credentials } = sql.sqlTargetConfig(target, table, { pageSize: 1000, limits: { maxConnections: 8, maxConcurrency: CONCURRENCY, timeoutMs: 30_000 } });
  return {
    where: `${url.replace(/\/\/[^@]*@/, '//')} table ${table}`,
    type: 'sql',
    config,
    credentials,
    account: (key) => ({ userName: key, displayName: key, email: `${key}@bench.test` }),
    mutable: 'displayName',
    batchedCrud: 500,
    seed: (prefix, count) => sql.seedRows(target, table, prefix, count),
    stop: () => sql.dropTable(target, table),
  };
}

/** WRITES creates, then updates, then deletes through writeBatch runs of `size`, 4 runs in flight (SQL's floor). */
async function measureBatchedCrud(connector, target, run, size) {
  const batches = Math.ceil(WRITES / size);
  const keys = Array.from({ length: WRITES }, (_, i) => `${run}-c${i}`);
  const uids = new Array(WRITES);
  const chunk = (b) => keys.slice(b * size, (b + 1) * size).map((key, i) => ({ key, i: b * size + i }));
  const check = (outcomes, what) => {
    const failed = outcomes.find((o) => !o.ok);
    if (failed) throw new Error(`a batched ${what} failed: ${failed.error.message}`);
    return outcomes;
  };
  const createMs = await pool(batches, 4, async (b) => {
    const items = chunk(b);
    const outcomes = check(await connector.writeBatch(items.map(({ key }) => ({ kind: 'create', objectClass: 'account', attributes: target.account(key) }))), 'create');
    outcomes.forEach((o, j) => (uids[items[j].i] = o.object.uid));
  });
  const updateMs = await pool(batches, 4, async (b) => {
    const ops = chunk(b).map(({ i }) => ({ kind: 'update', objectClass: 'account', uid: uids[i], delta: { replace: { [target.mutable]: `changed ${i}` }, remove: [] } }));
    check(await connector.writeBatch(ops), 'update');
  });
  const deleteMs = await pool(batches, 4, async (b) => {
    check(await connector.writeBatch(chunk(b).map(({ i }) => ({ kind: 'delete', objectClass: 'account', uid: uids[i] }))), 'delete');
  });
  return {
    crud_batched_writes_per_s: (3 * WRITES * 1000) / (createMs + updateMs + deleteMs),
    crud_batched_creates_per_s: (WRITES * 1000) / createMs,
    crud_batched_updates_per_s: (WRITES * 1000) / updateMs,
    crud_batched_deletes_per_s: (WRITES * 1000) / deleteMs,
  };
}

// --- measurements ---------------------------------------------------------------------------------------

/** Runs `fn(i)` for i in [0, n) with `concurrency` in flight; resolves to the elapsed ms. */
async function pool(n, concurrency, fn) {
  let next = 0;
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      for (let i = next++; i < n; i = next++) await fn(i);
    }),
  );
  return performance.now() - startedAt;
}

async function measureWrites(connector, target, run) {
  const uids = new Array(WRITES);
  const createMs = await pool(WRITES, CONCURRENCY, async (i) => {
    uids[i] = (await connector.create('account', target.account(`${run}-w${i}`))).uid;
  });
  const updateMs = await pool(WRITES, CONCURRENCY, async (i) => {
    await connector.update('account', uids[i], { replace: { [target.mutable]: `changed ${i}` }, remove: [] });
  });
  const deleteMs = await pool(WRITES, CONCURRENCY, async (i) => {
    await connector.delete('account', uids[i]);
  });
  const totalMs = createMs + updateMs + deleteMs;
  return {
    writes_per_s: (3 * WRITES * 1000) / totalMs,
    creates_per_s: (WRITES * 1000) / createMs,
    updates_per_s: (WRITES * 1000) / updateMs,
    deletes_per_s: (WRITES * 1000) / deleteMs,
  };
}

/** Creates then deletes WRITES accounts with writeBatch (Bulk for SCIM) in batches of 100, 4 batches in flight. */
async function measureBatchedWrites(connector, target, run) {
  const batch = 100;
  const batches = Math.ceil(WRITES / batch);
  const uids = [];
  const createMs = await pool(batches, 4, async (b) => {
    const ops = Array.from({ length: Math.min(batch, WRITES - b * batch) }, (_, i) => ({ kind: 'create', objectClass: 'account', attributes: target.account(`${run}-b${b * batch + i}`) }));
    const outcomes = await connector.writeBatch(ops);
    for (const outcome of outcomes) {
      if (!outcome.ok) throw new Error(`a batched create failed: ${outcome.error.message}`);
      uids.push(outcome.object.uid);
    }
  });
  const deleteMs = await pool(batches, 4, async (b) => {
    const outcomes = await connector.writeBatch(uids.slice(b * batch, (b + 1) * batch).map((uid) => ({ kind: 'delete', objectClass: 'account', uid })));
    const failed = outcomes.find((o) => !o.ok);
    if (failed) throw new Error(`a batched delete failed: ${failed.error.message}`);
  });
  return { bulk_writes_per_s: (2 * uids.length * 1000) / (createMs + deleteMs) };
}

async function measureReads(connector, target, prefix) {
  const rates = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    let seen = 0;
    const startedAt = performance.now();
    for await (const page of connector.search('account', { pageSize: 1000 })) {
      for (const object of page.objects) if (String(object.attributes.userName ?? object.attributes.uid ?? '').startsWith(prefix)) seen++;
    }
    const ms = performance.now() - startedAt;
    if (seen !== ACCOUNTS) throw new Error(`a paged search saw ${seen} of the ${ACCOUNTS} seeded accounts`);
    rates.push((seen * 1000) / ms);
  }
  rates.sort((a, b) => a - b);
  return { reads_per_s: rates[Math.floor(rates.length / 2)], read_trials_per_s: rates.map(round) };
}

async function benchType(name, connectors) {
  const type = name === 'sql_mariadb' ? 'sql' : name;
  if (!connectors.registeredConnectorTypes().includes(type)) return { skipped: `the ${type} connector is not built yet` };
  const target = await targets[name]();
  if (target.skip) return { skipped: target.skip };
  const connector = connectors.createConnector(type, target.config, target.credentials);
  const run = `bench${Date.now().toString(36)}`;
  try {
    say(`${name}: target ${target.where ?? ''}`);
    const writes = await measureWrites(connector, target, run);
    say(`${name}: ${round(writes.writes_per_s)} writes/s (create ${round(writes.creates_per_s)}/s, update ${round(writes.updates_per_s)}/s, delete ${round(writes.deletes_per_s)}/s; ${WRITES} each, ${CONCURRENCY} in flight)`);
    const batched = await measureBatchedWrites(connector, target, run);
    say(`${name}: ${round(batched.bulk_writes_per_s)} writes/s batched (writeBatch of 100, 4 in flight)`);
    const crud = target.batchedCrud ? await measureBatchedCrud(connector, target, run, target.batchedCrud) : {};
    if (target.batchedCrud) {
      say(
        `${name}: ${round(crud.crud_batched_writes_per_s)} writes/s batched create+update+delete (writeBatch of ${target.batchedCrud}, 4 in flight; ` +
          `create ${round(crud.crud_batched_creates_per_s)}/s, update ${round(crud.crud_batched_updates_per_s)}/s, delete ${round(crud.crud_batched_deletes_per_s)}/s)`,
      );
    }
    const prefix = `${run}-r`;
    const seedStart = performance.now();
    await target.seed(prefix, ACCOUNTS);
    say(`${name}: seeded ${ACCOUNTS} accounts in ${round(performance.now() - seedStart)} ms`);
    const reads = await measureReads(connector, target, prefix);
    say(`${name}: ${round(reads.reads_per_s)} accounts/s by paged search (pages of 1000; trials ${reads.read_trials_per_s.join(', ')})`);
    const also = {};
    if (target.alsoRead) {
      const other = connectors.createConnector(type, target.alsoRead.config, target.credentials);
      try {
        const result = await measureReads(other, target, prefix);
        also[`reads_${target.alsoRead.label}_per_s`] = result.reads_per_s;
        say(`${name}: ${round(result.reads_per_s)} accounts/s by paged search with ${target.alsoRead.label.replace(/_/g, ' ')} (trials ${result.read_trials_per_s.join(', ')})`);
      } finally {
        await other.close();
      }
    }
    return { ...writes, ...batched, ...crud, ...reads, ...also };
  } finally {
    await connector.close();
    await target.stop?.();
  }
}

/** The self time of the hottest functions of the newest CPU profile in `dir`, by file. */
function summariseProfile(dir) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  if (files.length === 0) return;
  const profile = JSON.parse(readFileSync(join(dir, files.at(-1)), 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const deltas = profile.timeDeltas;
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (deltas[i] ?? 0)));
  const byPlace = new Map();
  let total = 0;
  for (const [id, us] of self) {
    const frame = byId.get(id).callFrame;
    const file = frame.url ? frame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/test\/targets\//, 'test/targets/') : `(${frame.functionName || 'native'})`;
    const module = file.startsWith('(') ? file : file.split('/').slice(0, file.startsWith('@') ? 2 : 1).join('/');
    byPlace.set(module, (byPlace.get(module) ?? 0) + us);
    total += us;
  }
  say(`SCIM server CPU profile ${join('.stack', 'bench-profiles', files.at(-1))}: self time by package`);
  for (const [place, us] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, 10)) say(`  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${place}`);
}

async function main() {
  const connectors = require('@provisio/connectors');
  const [load1] = loadavg();
  say(`${availableParallelism()} cores, load ${load1.toFixed(2)} at start; ${WRITES} writes of each kind, ${ACCOUNTS} accounts read, ${CONCURRENCY} in flight`);
  const results = {};
  const skipped = {};
  // sql_mariadb: the SQL connector against MariaDB, reported under extra keys (sql_* are PostgreSQL's).
  for (const type of [...TYPES, 'sql_mariadb']) {
    if (ONLY && !ONLY.includes(type) && !(type === 'sql_mariadb' && ONLY.includes('sql'))) {
      skipped[type] = 'not in --only';
      continue;
    }
    const result = await benchType(type, connectors);
    if (result.skipped) {
      skipped[type] = result.skipped;
      say(`${type}: skipped (${result.skipped})`);
    } else {
      results[type] = result;
    }
  }
  const summary = { bench: 'connectors' };
  // SQL's writes figure is its batched create+update+delete (its floor is for batched writes).
  const writesOf = (type) => results[type]?.crud_batched_writes_per_s ?? results[type]?.writes_per_s;
  for (const type of TYPES) {
    summary[`${type}_writes_per_s`] = round(writesOf(type));
    summary[`${type}_reads_per_s`] = round(results[type]?.reads_per_s);
  }
  for (const type of [...TYPES, 'sql_mariadb']) {
    if (!results[type]) continue;
    if (type === 'sql_mariadb') {
      summary.sql_mariadb_writes_per_s = round(writesOf(type));
      summary.sql_mariadb_reads_per_s = round(results[type].reads_per_s);
    }
    if (results[type].crud_batched_writes_per_s !== undefined) summary[`${type}_single_writes_per_s`] = round(results[type].writes_per_s);
    summary[`${type}_creates_per_s`] = round(results[type].creates_per_s);
    summary[`${type}_updates_per_s`] = round(results[type].updates_per_s);
    summary[`${type}_deletes_per_s`] = round(results[type].deletes_per_s);
    summary[`${type}_bulk_writes_per_s`] = round(results[type].bulk_writes_per_s);
    summary[`${type}_read_trials_per_s`] = results[type].read_trials_per_s;
    for (const [key, value] of Object.entries(results[type])) if (/^reads_.+_per_s$/.test(key) && key !== 'reads_per_s') summary[`${type}_${key}`] = round(value);
    // SQL's floor is for batched writes; SCIM's and LDAP's for single calls.
    summary[`meets_${type}_writes_floor`] = writesOf(type) >= FLOOR[`${type === 'sql_mariadb' ? 'sql' : type}_writes_per_s`];
    summary[`meets_${type}_reads_floor`] = results[type].reads_per_s >= FLOOR.reads_per_s;
  }
  summary.skipped = skipped;
  summary.floors = FLOOR;
  summary.writes = WRITES;
  summary.accounts = ACCOUNTS;
  summary.concurrency = CONCURRENCY;
  summary.load_at_start = Number(load1.toFixed(2));
  summary.cores = availableParallelism();
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((error) => {
  process.stderr.write(`[bench:connectors] failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
