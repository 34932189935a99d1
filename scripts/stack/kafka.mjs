// Kafka: use the broker in KAFKA_BROKERS when it answers, otherwise a real Apache Kafka broker (KRaft, combined
// broker+controller) run from the release's jars on Maven Central, fetched once into .stack/kafka/<version>/libs.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureDir, indent, isAlive, portFree, readPid, rel, removeFile, requireDependency, run, sleep, STACK_DIR, StackError, stopProcess, tail, waitFor, which } from './util.mjs';

/** The newest 3.9.x on Maven Central when this was written; KAFKA_VERSION picks another release (4.x works too). */
export const DEFAULT_VERSION = '3.9.2';
export const DEFAULT_BROKERS = '127.0.0.1:9092';
const KAFKA_DIR = join(STACK_DIR, 'kafka');
const PID_FILE = join(KAFKA_DIR, 'kafka.pid');
const STATE_FILE = join(KAFKA_DIR, 'kafka.json');
const START_TIMEOUT_MS = 90_000;
const MAVEN_DEPENDENCY_PLUGIN = '3.8.1';
const INSTALL_HINT = '`apt-get install openjdk-17-jre-headless maven`';

const versionDir = (version) => join(KAFKA_DIR, version);
const majorOf = (version) => Number.parseInt(version.split('.')[0], 10);

function firstBroker(brokers) {
  const first = brokers.split(',')[0].trim();
  const match = first.match(/^(\[[^\]]+\]|[^:]+):(\d+)$/);
  if (!match) throw new StackError(`KAFKA_BROKERS must look like host:port[,host:port], got '${brokers}'`);
  return { host: match[1].replace(/^\[|\]$/g, ''), port: Number(match[2]) };
}

const isLocalHost = (host) => ['127.0.0.1', 'localhost', '::1', '0.0.0.0'].includes(host);

function kafkaClient(brokers, retries = 0) {
  const { Kafka, logLevel } = requireDependency('kafkajs');
  return new Kafka({
    clientId: 'provisio-stack',
    brokers: brokers.split(',').map((b) => b.trim()),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1500,
    requestTimeout: 3000,
    retry: { retries, initialRetryTime: 200, maxRetryTime: 1000 },
  });
}

/** Whether a broker answers: admin connect + describeCluster, with short timeouts and no retries. */
export async function probe(brokers, timeoutMs = 5000) {
  const admin = kafkaClient(brokers).admin({ retry: { retries: 0 } });
  const attempt = (async () => {
    await admin.connect();
    return admin.describeCluster();
  })();
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return { answers: true, cluster: await Promise.race([attempt, timeout]) };
  } catch (error) {
    attempt.catch(() => {});
    return { answers: false, error };
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Waits until the group coordinator serves requests (a fresh broker creates and loads __consumer_offsets on the
 * first FindCoordinator), so the first consumer of a test run does not log "coordinator is loading" errors.
 */
async function warmUp(brokers, timeoutMs = 30_000) {
  const kafka = kafkaClient(brokers, 1);
  const admin = kafka.admin();
  // idempotent producers ask for a producer id, which a fresh broker first has to get from the controller
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 1, initialRetryTime: 200 } });
  try {
    await admin.connect();
    const groups = await waitFor(
      async () => {
        try {
          const { groups } = await admin.describeGroups(['provisio-stack-warmup']);
          return groups.every((g) => g.errorCode === 0);
        } catch {
          return false;
        }
      },
      { timeoutMs, intervalMs: 300 },
    );
    const producerId = await waitFor(
      async () => {
        try {
          await producer.connect();
          return true;
        } catch {
          await producer.disconnect().catch(() => {});
          return false;
        }
      },
      { timeoutMs, intervalMs: 300 },
    );
    return groups && producerId;
  } catch {
    return false;
  } finally {
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

/** The broker this stack started, if it still runs: { pid, version, port }. */
function managedState() {
  const pid = readPid(PID_FILE);
  if (!isAlive(pid, 'kafka.Kafka')) return null;
  try {
    const state = JSON.parse(readFileSync(STATE_FILE, 'utf8'));
    if (state.pid === pid) return state;
  } catch {
    // no or unreadable state: treat as unknown, it will be replaced
  }
  return { pid, version: 'unknown', port: 0 };
}

// ---- jars ---------------------------------------------------------------------------------------------------

function pomXml(version, extra) {
  const dependency = (d) =>
    `    <dependency><groupId>${d.groupId}</groupId><artifactId>${d.artifactId}</artifactId><version>${d.version}</version></dependency>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/stack: the runtime classpath of an Apache Kafka ${version} broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.provisio.stack</groupId>
  <artifactId>kafka-broker-runtime</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>
${[{ groupId: 'org.apache.kafka', artifactId: 'kafka_2.13', version }, ...extra].map(dependency).join('\n')}
  </dependencies>
  <build>
    <plugins>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>${MAVEN_DEPENDENCY_PLUGIN}</version></plugin>
    </plugins>
  </build>
</project>
`;
}

/**
 * The kafka_2.13 pom brings slf4j-api (and from 4.0 log4j-core) but no slf4j binding: the distribution adds one.
 * Pick the binding that matches what the release resolved to.
 */
function loggingBinding(jars) {
  if (jars.some((j) => /^(slf4j-reload4j|slf4j-log4j12|log4j-slf4j2?-impl|logback-classic|slf4j-simple)-\d/.test(j))) return null;
  const slf4j = jars.map((j) => j.match(/^slf4j-api-((\d+)\.(\d+)\.(\d+)[^/]*)\.jar$/)).find(Boolean);
  const log4jCore = jars.map((j) => j.match(/^log4j-core-(\d[^/]*)\.jar$/)).find(Boolean);
  const slf4jMajor = slf4j ? Number(slf4j[2]) : 1;
  if (log4jCore) {
    return { groupId: 'org.apache.logging.log4j', artifactId: slf4jMajor >= 2 ? 'log4j-slf4j2-impl' : 'log4j-slf4j-impl', version: log4jCore[1] };
  }
  const slf4jVersion = slf4j?.[1] ?? '1.7.36';
  const reload4jAvailable = slf4jMajor >= 2 || (slf4j && Number(slf4j[3]) === 7 && Number(slf4j[4]) >= 33);
  return { groupId: 'org.slf4j', artifactId: reload4jAvailable ? 'slf4j-reload4j' : 'slf4j-log4j12', version: slf4jVersion };
}

async function mavenCopy(mvn, dir, libs) {
  const args = [
    '-B', '-q', '-Dstyle.color=never',
    // More HTTP retries than Maven's default: a dropped registry connection should not fail a clean checkout.
    '-Daether.connector.http.retryHandler.count=6', '-Dmaven.wagon.http.retryHandler.count=6',
    '-f', join(dir, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${libs}`, '-DincludeScope=runtime',
  ];
  let result = await run(mvn, args, { cwd: dir, timeoutMs: 20 * 60_000 });
  // One more whole try for what the HTTP retries do not cover (a resolution that failed mid-way).
  if (result.code !== 0 && !/was not found/.test(result.output)) {
    result = await run(mvn, args, { cwd: dir, timeoutMs: 20 * 60_000 });
  }
  if (result.code === 0) return;
  const version = result.output.match(/org\.apache\.kafka:kafka_2\.13:jar:([^\s:]+)(?: in | was not found)/)?.[1];
  if (version) {
    throw new StackError(
      `Kafka ${version} is not on Maven Central (no org.apache.kafka:kafka_2.13:${version}): check KAFKA_VERSION; ` +
        'releases: https://repo.maven.apache.org/maven2/org/apache/kafka/kafka_2.13/',
    );
  }
  const boilerplate = /^\[ERROR\]\s*$|re-run Maven|full stack trace|full debug logging|For more information about the errors|\[Help 1\] http/;
  const output = result.output.trim().split('\n').filter((l) => l.trim() && !boilerplate.test(l)).slice(-15).join('\n');
  throw new StackError(`fetching the Kafka jars with Maven failed (mvn exit ${result.code}):\n${indent(output)}`);
}

/** Fetches the broker's runtime jars once (a marker file says the folder is complete). */
async function ensureLibs(version, log) {
  const dir = ensureDir(versionDir(version));
  const libs = join(dir, 'libs');
  const marker = join(libs, '.complete');
  if (existsSync(marker)) return libs;
  const mvn = which('mvn');
  if (!mvn) {
    throw new StackError(`Maven (\`mvn\`) is needed once to fetch the Kafka ${version} jars: install it (${INSTALL_HINT}) or set KAFKA_BROKERS to a running broker`);
  }
  const startedAt = Date.now();
  log(`fetching Kafka ${version} jars from Maven Central (once, into ${rel(libs)})...`);
  rmSync(libs, { recursive: true, force: true });
  writeFileSync(join(dir, 'pom.xml'), pomXml(version, []));
  await mavenCopy(mvn, dir, libs);
  const binding = loggingBinding(readdirSync(libs));
  if (binding) {
    writeFileSync(join(dir, 'pom.xml'), pomXml(version, [binding]));
    await mavenCopy(mvn, dir, libs);
  }
  const jars = readdirSync(libs).filter((j) => j.endsWith('.jar'));
  const megabytes = jars.reduce((sum, j) => sum + statSync(join(libs, j)).size, 0) / 1024 / 1024;
  writeFileSync(marker, `${JSON.stringify({ version, binding, jars: jars.length, fetchedAt: new Date().toISOString() }, null, 2)}\n`);
  log(`fetched ${jars.length} jars (${megabytes.toFixed(0)} MB) in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  return libs;
}

// ---- configuration ------------------------------------------------------------------------------------------

function serverProperties(version, dataDir, port) {
  const controllerPort = port + 1;
  const lines = [
    '# Generated by scripts/stack on every start: a single-node development/test cluster (KRaft, combined mode).',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=3',
    'auto.create.topics.enable=false',
    'offsets.topic.replication.factor=1',
    // one partition each: the coordinators load at once (see warmUp), and startup is quicker
    'offsets.topic.num.partitions=1',
    'transaction.state.log.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
  ];
  if (majorOf(version) >= 4) lines.push('share.coordinator.state.topic.replication.factor=1', 'share.coordinator.state.topic.min.isr=1');
  return `${lines.join('\n')}\n`;
}

/** Logging configuration: INFO to stdout (which is kafka.log) for the broker, WARN to stderr for the tools. */
function writeLogConfigs(dir) {
  const log4j = (level, target) =>
    [
      `log4j.rootLogger=${level}, out`,
      'log4j.appender.out=org.apache.log4j.ConsoleAppender',
      `log4j.appender.out.Target=${target === 'stderr' ? 'System.err' : 'System.out'}`,
      'log4j.appender.out.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n',
      'log4j.logger.kafka.request.logger=WARN',
      'log4j.logger.org.apache.zookeeper=WARN',
      '',
    ].join('\n');
  const log4j2 = (level, target) =>
    [
      'status = warn',
      'appender.out.type = Console',
      'appender.out.name = out',
      `appender.out.target = ${target === 'stderr' ? 'SYSTEM_ERR' : 'SYSTEM_OUT'}`,
      'appender.out.layout.type = PatternLayout',
      'appender.out.layout.pattern = [%d] %p %m (%c)%n',
      `rootLogger.level = ${level}`,
      'rootLogger.appenderRef.out.ref = out',
      'logger.request.name = kafka.request.logger',
      'logger.request.level = WARN',
      '',
    ].join('\n');
  writeFileSync(join(dir, 'log4j.properties'), log4j('INFO', 'stdout'));
  writeFileSync(join(dir, 'log4j2.properties'), log4j2('INFO', 'stdout'));
  writeFileSync(join(dir, 'tools-log4j.properties'), log4j('WARN', 'stderr'));
  writeFileSync(join(dir, 'tools-log4j2.properties'), log4j2('WARN', 'stderr'));
}

/** The -D flag that points the release's logging backend (log4j 1/reload4j for 3.x, log4j2 for 4.x) at a file. */
function logFlag(libs, dir, tools) {
  const prefix = tools ? 'tools-' : '';
  const jars = readdirSync(libs);
  if (jars.some((j) => /^log4j-core-/.test(j))) return `-Dlog4j2.configurationFile=${join(dir, `${prefix}log4j2.properties`)}`;
  return `-Dlog4j.configuration=${pathToFileURL(join(dir, `${prefix}log4j.properties`)).href}`;
}

/** A Kafka cluster id: 16 random bytes, base64url without padding (not starting with '-', like Uuid.randomUuid). */
function clusterId() {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

async function findJava(version) {
  const java = process.env.JAVA_HOME && existsSync(join(process.env.JAVA_HOME, 'bin', 'java')) ? join(process.env.JAVA_HOME, 'bin', 'java') : which('java');
  const needed = majorOf(version) >= 4 ? 17 : 8;
  if (!java) throw new StackError(`Java ${needed}+ (\`java\`) is needed to run Kafka ${version}: install it (${INSTALL_HINT}) or set KAFKA_BROKERS to a running broker`);
  const result = await run(java, ['-version']);
  const match = result.output.match(/version "(\d+)(?:\.(\d+))?/);
  const major = match ? (match[1] === '1' ? Number(match[2]) : Number(match[1])) : needed;
  if (major < needed) throw new StackError(`Kafka ${version} needs Java ${needed}+, but ${java} is Java ${major}: install a newer one (${INSTALL_HINT}) or set JAVA_HOME`);
  return java;
}

// ---- start / stop -------------------------------------------------------------------------------------------

/** Checks what starting `version` on `port` needs (java, free ports, jars) without touching a running broker. */
async function preflight(version, port, log, replacing = null) {
  const java = await findJava(version);
  const ours = replacing ? [replacing.port, replacing.port + 1] : [];
  for (const p of [port, port + 1]) {
    if (!ours.includes(p) && !(await portFree(p))) {
      throw new StackError(`port ${p} is taken by a program that does not answer as a Kafka broker: free it, or set KAFKA_BROKERS (the stack uses its port and port+1)`);
    }
  }
  const libs = await ensureLibs(version, log);
  return { java, libs };
}

async function start(version, port, log) {
  const { java, libs } = await preflight(version, port, log);
  const dir = versionDir(version);
  const dataDir = join(dir, 'data');
  const propertiesFile = join(dir, 'server.properties');
  writeFileSync(propertiesFile, serverProperties(version, dataDir, port));
  writeLogConfigs(dir);
  const classpath = join(libs, '*');

  if (!existsSync(join(dataDir, 'meta.properties'))) {
    ensureDir(dataDir);
    const result = await run(java, ['-cp', classpath, logFlag(libs, dir, true), 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', propertiesFile, '--ignore-formatted'], {
      cwd: dir,
    });
    if (result.code !== 0) throw new StackError(`formatting the Kafka storage failed:\n${indent(result.output.trim().split('\n').slice(-15).join('\n'))}`);
  }

  const logFile = join(dir, 'kafka.log');
  if (existsSync(logFile)) renameSync(logFile, `${logFile}.1`);
  const heap = (process.env.KAFKA_HEAP_OPTS ?? '-Xms256m -Xmx1g').split(/\s+/).filter(Boolean);
  const jvm = [...heap, '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:+ExplicitGCInvokesConcurrent', '-Djava.awt.headless=true'];
  log(`starting Kafka ${version} on 127.0.0.1:${port} (controller ${port + 1}, log ${rel(logFile)})...`);
  const spawnedAt = Date.now();
  const out = openSync(logFile, 'a');
  let exited = null;
  let child;
  try {
    child = spawn(java, [...jvm, '-cp', classpath, logFlag(libs, dir, false), 'kafka.Kafka', propertiesFile], {
      cwd: dir,
      detached: true,
      stdio: ['ignore', out, out],
    });
  } finally {
    closeSync(out);
  }
  child.once('error', (error) => (exited = { error }));
  child.once('exit', (code, signal) => (exited = { code, signal }));
  child.unref();
  await sleep(50);
  if (!child.pid || exited?.error) throw new StackError(`could not start java: ${exited?.error?.message ?? 'no pid'}`);
  writeFileSync(PID_FILE, `${child.pid}\n`);
  writeFileSync(STATE_FILE, `${JSON.stringify({ pid: child.pid, version, port, controllerPort: port + 1, startedAt: new Date().toISOString() }, null, 2)}\n`);
  return { pid: child.pid, logFile, spawnedAt, exitedEarly: () => exited };
}

async function waitUntilAnswering(brokers, { pid, logFile, exitedEarly }) {
  const died = () => Boolean(exitedEarly?.()) || !isAlive(pid);
  const answered = await waitFor(async () => (await probe(brokers, 3000)).answers, { timeoutMs: START_TIMEOUT_MS, intervalMs: 500, abort: died });
  if (answered) return;
  const how = died()
    ? `exited during startup${exitedEarly?.()?.code != null ? ` (exit code ${exitedEarly().code})` : ''}`
    : `did not answer within ${START_TIMEOUT_MS / 1000} s (stopped it)`;
  if (!died()) await stopProcess(pid, { timeoutMs: 20_000 });
  removeFile(PID_FILE);
  throw new StackError(`Kafka ${how}; last lines of ${rel(logFile)}:\n${indent(tail(logFile, 30))}`);
}

async function stopManaged(state) {
  const startedAt = Date.now();
  const killed = await stopProcess(state.pid, { timeoutMs: 60_000, commandIncludes: 'kafka.Kafka' });
  removeFile(PID_FILE);
  removeFile(STATE_FILE);
  return `stopped Kafka ${state.version} (pid ${state.pid}) in ${((Date.now() - startedAt) / 1000).toFixed(1)} s${killed ? ' (had to kill it)' : ''}`;
}

/** Brings Kafka up. Returns { brokers, managed, started, version }. */
export async function up({ env, log, kafkaVersion }) {
  const version = kafkaVersion || env.KAFKA_VERSION || DEFAULT_VERSION;
  if (!/^\d+\.\d+\.\d+([.-][\w.]+)?$/.test(version)) throw new StackError(`KAFKA_VERSION must be a release like ${DEFAULT_VERSION}, got '${version}'`);
  const requested = env.KAFKA_BROKERS || DEFAULT_BROKERS;
  const { host, port } = firstBroker(requested);
  let state = managedState();

  const existing = await probe(requested);
  const oursAnswers = Boolean(state) && existing.answers && isLocalHost(host) && state.port === port;
  if (existing.answers && !oursAnswers) {
    if (env.KAFKA_VERSION) log(`KAFKA_VERSION=${env.KAFKA_VERSION} is not used: a broker already answers at ${requested}`);
    return { brokers: requested, managed: false, started: false, version: null };
  }
  if (oursAnswers && state.version === version) {
    await warmUp(requested);
    return { brokers: requested, managed: true, started: false, version };
  }

  // The stack's broker runs another release (or on another port) than asked for: replace it, once the requested
  // release is known to be able to start.
  if (state && (state.version !== version || state.port !== port)) {
    await preflight(version, port, log, state);
    const was = state.port === port ? `Kafka ${state.version}` : `Kafka ${state.version} on port ${state.port}`;
    log(`stopping the stack's ${was} to run Kafka ${version} on port ${port}...`);
    log(await stopManaged(state));
    state = null;
  }

  const brokers = `127.0.0.1:${port}`;
  if (state) {
    log(`the stack's Kafka ${state.version} (pid ${state.pid}) is not answering yet; waiting...`);
    await waitUntilAnswering(brokers, { pid: state.pid, logFile: join(versionDir(state.version), 'kafka.log') });
    await warmUp(brokers);
    return { brokers, managed: true, started: false, version: state.version };
  }
  if (env.KAFKA_BROKERS && !existing.answers) log(`KAFKA_BROKERS (${requested}) does not answer (${existing.error?.message}); starting Kafka on ${brokers}`);
  const broker = await start(version, port, log);
  await waitUntilAnswering(brokers, broker);
  await warmUp(brokers);
  log(`Kafka ${version} ready ${((Date.now() - broker.spawnedAt) / 1000).toFixed(1)} s after launch`);
  return { brokers, managed: true, started: true, version };
}

export async function down() {
  const state = managedState();
  if (!state) {
    removeFile(PID_FILE);
    removeFile(STATE_FILE);
    return null;
  }
  return stopManaged(state);
}

export async function status({ env }) {
  const state = managedState();
  if (state) {
    const brokers = `127.0.0.1:${state.port}`;
    return { name: 'kafka', url: brokers, up: (await probe(brokers)).answers, managed: true, detail: `Kafka ${state.version}, pid ${state.pid}` };
  }
  const requested = env.KAFKA_BROKERS || DEFAULT_BROKERS;
  return { name: 'kafka', url: requested, up: (await probe(requested)).answers, managed: false };
}
