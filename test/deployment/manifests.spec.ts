/**
 * The deployment descriptions — k8s/ (kustomize base and the example overlay), docker-compose.yml and the
 * Dockerfile — checked against what the apps actually read: every variable an app requires reaches it
 * (ConfigMap, the Secret template, or the container's own env), every Deployment is probed, bounded and
 * locked down, every app has its Deployment and Service, and nothing in the repository is a credential.
 *
 * The memory limit of every app that runs scripts is at least what its sandbox pool may hold
 * (processMemoryBound of @provisio/sandbox, the formula of docs/operations.md) for the pool size its
 * environment sets.
 *
 * When `kubectl` is on the PATH the base and the overlay are also rendered (`kubectl kustomize`) and the
 * rendered objects go through the same checks; without it those two tests are skipped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { load, loadAll } from 'js-yaml';
import type { z } from 'zod';
import { describeEnv } from '@provisio/platform';
import { processMemoryBound } from '@provisio/sandbox';
import { appConfigSchema as executionWorkerConfig } from '../../apps/execution-worker/src/config';
import { appConfigSchema as provisioningQueueConfig } from '../../apps/provisioning-queue/src/config';
import { appConfigSchema as reconcilerConfig } from '../../apps/reconciler/src/config';
import { appConfigSchema as schedulerConfig } from '../../apps/scheduler/src/config';
import { appConfigSchema as scriptRegistryConfig } from '../../apps/script-registry/src/config';

const ROOT = join(__dirname, '..', '..');
const BASE_DIR = join(ROOT, 'k8s', 'base');
const OVERLAY_DIR = join(ROOT, 'k8s', 'overlays', 'example');
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const SECRET_TEMPLATE_FILE = join(BASE_DIR, 'secret.example.yaml');
const SECRET_NAME = 'provisio-secrets';

const SCHEMAS: Record<string, z.ZodType> = {
  'script-registry': scriptRegistryConfig,
  'execution-worker': executionWorkerConfig,
  scheduler: schedulerConfig,
  'provisioning-queue': provisioningQueueConfig,
  reconciler: reconcilerConfig,
};
const APPS = Object.keys(SCHEMAS);
const AUTOSCALED = ['execution-worker', 'provisioning-queue'];
const PROBE_PATHS = ['/health/live', '/health/ready'];
const MIGRATIONS_JOB = 'provisio-migrations';
/** Variables whose values are credentials: never in a ConfigMap, never literal in a committed file. */
const SECRET_VARIABLES = ['DATABASE_URL', 'AUTH_JWT_SECRET', 'KAFKA_SASL_PASSWORD'];
/** Apps that run scripts, and the variable that sizes their sandbox pool (0 or unset: one thread per CPU of the node). */
const SANDBOXED: Record<string, string> = { 'execution-worker': 'SANDBOX_POOL_SIZE', 'script-registry': 'REGISTRY_SANDBOX_POOL_SIZE' };

// --- manifest shapes (only the fields checked here) -------------------------------------------------------

type Labels = Record<string, string>;
interface Metadata {
  name: string;
  namespace?: string;
  labels?: Labels;
  annotations?: Labels;
}
interface Probe {
  httpGet?: { path?: string; port?: string | number };
  exec?: unknown;
  tcpSocket?: unknown;
  grpc?: unknown;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: { name: string; key: string };
    secretKeyRef?: { name: string; key: string };
    fieldRef?: unknown;
    resourceFieldRef?: unknown;
  };
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { drop?: string[] };
}
interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string }; prefix?: string }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  securityContext?: SecurityContext;
}
interface PodTemplate {
  metadata?: { labels?: Labels; annotations?: Labels };
  spec: { containers: Container[]; initContainers?: Container[]; securityContext?: SecurityContext; terminationGracePeriodSeconds?: number };
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
}
interface Deployment extends Manifest {
  spec: { replicas?: number; selector: { matchLabels?: Labels }; template: PodTemplate };
}
interface Job extends Manifest {
  spec: { template: PodTemplate };
}
interface Service extends Manifest {
  spec: { selector?: Labels; ports?: { name?: string; port: number; targetPort?: string | number }[] };
}
interface Hpa extends Manifest {
  spec: {
    scaleTargetRef: { apiVersion?: string; kind: string; name: string };
    minReplicas?: number;
    maxReplicas: number;
    metrics?: { type: string; resource?: { name: string; target?: { type: string; averageUtilization?: number } } }[];
  };
}
interface ConfigMap extends Manifest {
  data?: Record<string, unknown>;
}
interface Secret extends Manifest {
  data?: Record<string, unknown>;
  stringData?: Record<string, unknown>;
}
interface Kustomization {
  namespace?: string;
  resources?: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
  patches?: { path?: string; patch?: string; target?: { kind?: string; name?: string } }[];
}

// --- helpers -------------------------------------------------------------------------------------------------

const rel = (file: string) => relative(ROOT, file);

function readYamlDocuments(file: string): Manifest[] {
  return (loadAll(readFileSync(file, 'utf8')) as (Manifest | null)[]).filter((doc): doc is Manifest => doc !== null && doc !== undefined);
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
}

function ofKind<T extends Manifest>(objects: Manifest[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

function requiredVariables(app: string): string[] {
  return describeEnv(SCHEMAS[app])
    .filter((v) => v.required)
    .map((v) => v.name);
}

function defaultOf(app: string, variable: string): unknown {
  return describeEnv(SCHEMAS[app]).find((v) => v.name === variable)?.defaultValue;
}

const allKnownVariables = () => new Set(APPS.flatMap((app) => describeEnv(SCHEMAS[app]).map((v) => v.name)));

/**
 * What an app needs from its environment beyond what describeEnv marks required: the one-of auth rule
 * (refineAuth) and SASL credentials once a mechanism is set. Then the whole environment goes through the
 * app's own schema, so a value it would refuse at start-up fails here too.
 */
function environmentProblems(where: string, app: string, env: Record<string, string>, sources: string): string[] {
  const problems: string[] = [];
  const set = (name: string) => env[name] !== undefined && env[name] !== ''; // loadConfig treats '' as unset
  for (const name of requiredVariables(app)) {
    if (!set(name)) problems.push(`${where} ${app}: ${name} is required but not provided by ${sources}`);
  }
  const names = new Set(describeEnv(SCHEMAS[app]).map((v) => v.name));
  if (names.has('AUTH_JWT_SECRET') && names.has('AUTH_JWKS_URL') && !set('AUTH_JWT_SECRET') && !set('AUTH_JWKS_URL')) {
    problems.push(`${where} ${app}: AUTH_JWT_SECRET or AUTH_JWKS_URL is required but neither is provided by ${sources}`);
  }
  if (set('KAFKA_SASL_MECHANISM')) {
    for (const name of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD']) {
      if (!set(name)) problems.push(`${where} ${app}: ${name} is required with KAFKA_SASL_MECHANISM but not provided by ${sources}`);
    }
  }
  if (problems.length > 0) return problems;
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = SCHEMAS[app].safeParse(cleaned);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const variable = String(issue.path[0] ?? '(environment)');
      const shown = SECRET_VARIABLES.includes(variable) ? '(hidden)' : JSON.stringify(cleaned[variable]);
      problems.push(`${where} ${app}: ${variable}=${shown} is refused by the app's config schema: ${issue.message}`);
    }
  }
  return problems;
}

// --- credentials -------------------------------------------------------------------------------------------

/**
 * An obvious placeholder: `change-me`, `changeme`, `replace-me`, `placeholder` or `<something>`, optionally
 * followed by plain words or numbers (`change-me-to-a-random-string-of-at-least-32-characters`). Anything
 * with mixed letters and digits, symbols or random-looking runs is treated as a real credential.
 */
function isPlaceholder(value: string): boolean {
  return /^(?:change-?me|replace-?me|placeholder|<[a-z0-9 _.-]+>)(?:[-_](?:[a-z]+|[0-9]+))*$/i.test(value);
}

/** A value that carries a credential that is not a placeholder (URLs: only their password counts). */
function credentialProblem(value: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return 'is not a valid URL';
    }
    if (url.password && !isPlaceholder(decodeURIComponent(url.password))) return 'carries a password that is not a placeholder';
    for (const [key, v] of url.searchParams) {
      if (/pass|secret|token|key/i.test(key) && !isPlaceholder(v)) return `carries a ${key} that is not a placeholder`;
    }
    return undefined;
  }
  return isPlaceholder(value) ? undefined : 'is not an obvious placeholder (change-me, replace-me, <...>)';
}

function secretTemplate(): { secret: Secret; values: Record<string, string> } {
  const docs = readYamlDocuments(SECRET_TEMPLATE_FILE);
  const secret = docs.find((d) => d.kind === 'Secret' && d.metadata?.name === SECRET_NAME) as Secret | undefined;
  if (!secret) throw new Error(`${rel(SECRET_TEMPLATE_FILE)} must hold the Secret ${SECRET_NAME}`);
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret.data ?? {})) values[key] = Buffer.from(String(value), 'base64').toString('utf8');
  for (const [key, value] of Object.entries(secret.stringData ?? {})) values[key] = String(value);
  return { secret, values };
}

// --- Kubernetes -------------------------------------------------------------------------------------------

/** The environment a container sees: envFrom (ConfigMaps found in `objects`, the Secret from the template), then env. */
function containerEnvironment(container: Container, objects: Manifest[], secretValues: Record<string, string>) {
  const env: Record<string, string> = {};
  const problems: string[] = [];
  const configMap = (name: string) => ofKind<ConfigMap>(objects, 'ConfigMap').find((c) => c.metadata.name === name);
  const secret = (name: string): Record<string, string> | undefined => {
    if (name === SECRET_NAME) return secretValues;
    const found = ofKind<Secret>(objects, 'Secret').find((s) => s.metadata.name === name);
    return found ? { ...(found.stringData as Record<string, string>) } : undefined;
  };
  for (const source of container.envFrom ?? []) {
    const prefix = source.prefix ?? '';
    if (source.configMapRef) {
      const found = configMap(source.configMapRef.name);
      if (!found) problems.push(`envFrom names ConfigMap ${source.configMapRef.name}, which is not defined`);
      for (const [k, v] of Object.entries(found?.data ?? {})) env[prefix + k] = String(v);
    }
    if (source.secretRef) {
      const found = secret(source.secretRef.name);
      if (!found) problems.push(`envFrom names Secret ${source.secretRef.name}, which is neither defined nor ${rel(SECRET_TEMPLATE_FILE)}`);
      for (const [k, v] of Object.entries(found ?? {})) env[prefix + k] = v;
    }
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (variable.value !== undefined) env[variable.name] = String(variable.value);
    else if (from?.configMapKeyRef) env[variable.name] = String(configMap(from.configMapKeyRef.name)?.data?.[from.configMapKeyRef.key] ?? '');
    else if (from?.secretKeyRef) env[variable.name] = secret(from.secretKeyRef.name)?.[from.secretKeyRef.key] ?? '';
    else if (from) env[variable.name] = '(from the downward API)';
  }
  return { env, problems };
}

const SOURCES = `the ConfigMap, the Secret template (${rel(SECRET_TEMPLATE_FILE)}) or the container's env`;

function probeProblems(where: string, container: Container): string[] {
  const problems: string[] = [];
  const expected: [keyof Container, string | undefined][] = [
    ['livenessProbe', '/health/live'],
    ['readinessProbe', '/health/ready'],
    ['startupProbe', undefined],
  ];
  const portNames = new Set((container.ports ?? []).flatMap((p) => [p.name, p.containerPort]).filter((p) => p !== undefined));
  for (const [kind, path] of expected) {
    const probe = container[kind] as Probe | undefined;
    if (!probe) {
      if (kind !== 'startupProbe') problems.push(`${where}: container ${container.name} has no ${kind}`);
      continue;
    }
    const actual = probe.httpGet?.path;
    if (!probe.httpGet) problems.push(`${where}: ${kind} of ${container.name} is not an httpGet on ${PROBE_PATHS.join(' or ')}`);
    else if (!actual || !PROBE_PATHS.includes(actual)) problems.push(`${where}: ${kind} of ${container.name} calls ${actual}, not ${PROBE_PATHS.join(' or ')}`);
    else if (path && actual !== path) problems.push(`${where}: ${kind} of ${container.name} calls ${actual}, expected ${path}`);
    if (probe.httpGet && !portNames.has(probe.httpGet.port as string | number)) {
      problems.push(`${where}: ${kind} of ${container.name} uses port ${probe.httpGet.port}, which the container does not declare`);
    }
  }
  return problems;
}

function resourceProblems(where: string, container: Container): string[] {
  const problems: string[] = [];
  for (const bound of ['requests', 'limits'] as const) {
    for (const resource of ['cpu', 'memory']) {
      if (container.resources?.[bound]?.[resource] === undefined) problems.push(`${where}: container ${container.name} has no resources.${bound}.${resource}`);
    }
  }
  return problems;
}

function securityProblems(where: string, pod: PodTemplate['spec'], container: Container): string[] {
  const problems: string[] = [];
  const sc = container.securityContext ?? {};
  if (!(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot)) problems.push(`${where}: container ${container.name} does not set runAsNonRoot`);
  const uid = sc.runAsUser ?? pod.securityContext?.runAsUser;
  // The image's USER is a name (`node`); the kubelet can only verify runAsNonRoot against a numeric uid.
  if (uid === undefined || uid === 0) problems.push(`${where}: container ${container.name} needs a numeric non-zero runAsUser`);
  if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: container ${container.name} does not set allowPrivilegeEscalation: false`);
  if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${where}: container ${container.name} does not drop ALL capabilities`);
  if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: container ${container.name} does not use a read-only root filesystem`);
  return problems;
}

function imagesOf(objects: Manifest[]): string[] {
  return [...ofKind<Deployment>(objects, 'Deployment'), ...ofKind<Job>(objects, 'Job')].flatMap((w) => w.spec.template.spec.containers.map((c) => c.image ?? ''));
}

/** Everything checked on a set of Kubernetes objects: the raw base files, or a rendered base or overlay. */
function clusterProblems(label: string, objects: Manifest[], secretValues: Record<string, string>): string[] {
  const problems: string[] = [];
  const deployments = ofKind<Deployment>(objects, 'Deployment');
  const services = ofKind<Service>(objects, 'Service');
  const hpas = ofKind<Hpa>(objects, 'HorizontalPodAutoscaler');

  for (const app of APPS) {
    const where = `${label} Deployment ${app}`;
    const port = Number(defaultOf(app, 'PORT'));
    const deployment = deployments.find((d) => d.metadata.name === app);
    if (!deployment) {
      problems.push(`${label}: no Deployment for app ${app}`);
      continue;
    }
    const labels = deployment.spec.template.metadata?.labels ?? {};
    if (labels['app.kubernetes.io/name'] !== app) problems.push(`${where}: pod label app.kubernetes.io/name is not ${app}`);
    if (labels['app.kubernetes.io/part-of'] !== 'provisio') problems.push(`${where}: pod label app.kubernetes.io/part-of is not provisio`);
    for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels ?? {})) {
      if (labels[k] !== v) problems.push(`${where}: selector ${k}=${v} does not match the pod labels`);
    }
    const pod = deployment.spec.template.spec;
    const grace = pod.terminationGracePeriodSeconds ?? 30;
    const annotations = deployment.spec.template.metadata?.annotations ?? {};
    if (annotations['prometheus.io/scrape'] !== 'true' || annotations['prometheus.io/path'] !== '/metrics') {
      problems.push(`${where}: pod lacks the prometheus.io/scrape and prometheus.io/path=/metrics annotations`);
    }
    const container = pod.containers.find((c) => c.name === app) ?? pod.containers[0];
    if (!container) {
      problems.push(`${where}: no containers`);
      continue;
    }
    problems.push(...probeProblems(where, container), ...resourceProblems(where, container), ...securityProblems(where, pod, container));
    const start = [...(container.command ?? []), ...(container.args ?? [])].join(' ');
    if (start && !start.includes(`apps/${app}/dist/main.js`)) problems.push(`${where}: container runs "${start}", not apps/${app}/dist/main.js`);

    const { env, problems: refProblems } = containerEnvironment(container, objects, secretValues);
    problems.push(...refProblems.map((p) => `${where}: ${p}`));
    problems.push(...environmentProblems(`${label} Deployment`, app, env, SOURCES));
    const listens = Number(env.PORT || port);
    if (listens !== port) problems.push(`${where}: PORT is ${listens}, the app's port is ${port}`);
    if (!(container.ports ?? []).some((p) => p.containerPort === listens)) problems.push(`${where}: PORT ${listens} is not a containerPort`);
    if (annotations['prometheus.io/port'] !== String(listens)) problems.push(`${where}: prometheus.io/port is not ${listens}`);
    const shutdownSeconds = Number(env.SHUTDOWN_TIMEOUT_MS || defaultOf(app, 'SHUTDOWN_TIMEOUT_MS')) / 1000;
    if (!(grace > shutdownSeconds)) problems.push(`${where}: terminationGracePeriodSeconds ${grace} is not above SHUTDOWN_TIMEOUT_MS (${shutdownSeconds} s)`);

    const service = services.find((s) => s.metadata.name === app);
    if (!service) problems.push(`${label}: no Service for app ${app}`);
    else {
      const selector = service.spec.selector ?? {};
      if (Object.keys(selector).length === 0 || Object.entries(selector).some(([k, v]) => labels[k] !== v)) {
        problems.push(`${label} Service ${app}: selector does not select the ${app} pods`);
      }
      for (const p of service.spec.ports ?? []) {
        const target = p.targetPort ?? p.port;
        const declared = (container.ports ?? []).some((cp) => cp.name === target || cp.containerPort === target);
        if (!declared) problems.push(`${label} Service ${app}: targetPort ${target} is not a port of the ${app} container`);
      }
    }

    const hpa = hpas.find((h) => h.spec.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === app);
    if (AUTOSCALED.includes(app)) {
      if (!hpa) problems.push(`${label}: no HorizontalPodAutoscaler for app ${app}`);
      else {
        if (hpa.apiVersion !== 'autoscaling/v2') problems.push(`${label} HPA ${app}: apiVersion is ${hpa.apiVersion}, not autoscaling/v2`);
        const cpu = (hpa.spec.metrics ?? []).some((m) => m.type === 'Resource' && m.resource?.name === 'cpu' && m.resource.target?.type === 'Utilization');
        if (!cpu) problems.push(`${label} HPA ${app}: does not scale on CPU utilisation`);
        if ((hpa.spec.minReplicas ?? 1) > hpa.spec.maxReplicas) problems.push(`${label} HPA ${app}: minReplicas above maxReplicas`);
      }
    }
  }
  for (const d of deployments) {
    if (!APPS.includes(d.metadata.name)) problems.push(`${label}: Deployment ${d.metadata.name} is not one of the apps (${APPS.join(', ')})`);
  }
  const scaled = hpas.map((h) => h.spec.scaleTargetRef.name).sort();
  if (JSON.stringify(scaled) !== JSON.stringify([...AUTOSCALED].sort())) {
    problems.push(`${label}: HorizontalPodAutoscalers target [${scaled.join(', ')}], expected exactly [${AUTOSCALED.join(', ')}]`);
  }

  const job = ofKind<Job>(objects, 'Job').find((j) => j.metadata.name === MIGRATIONS_JOB);
  if (!job) problems.push(`${label}: no Job ${MIGRATIONS_JOB}`);
  else {
    const container = job.spec.template.spec.containers[0];
    const where = `${label} Job ${MIGRATIONS_JOB}`;
    const start = [...(container.command ?? []), ...(container.args ?? [])].join(' ');
    if (start !== 'node migrations/dist/cli.js run') problems.push(`${where}: runs "${start}", not "node migrations/dist/cli.js run"`);
    problems.push(...resourceProblems(where, container), ...securityProblems(where, job.spec.template.spec, container));
    const { env, problems: refProblems } = containerEnvironment(container, objects, secretValues);
    problems.push(...refProblems.map((p) => `${where}: ${p}`));
    if (!env.DATABASE_URL) problems.push(`${where}: DATABASE_URL is required but not provided by ${SOURCES}`);
  }

  for (const configMap of ofKind<ConfigMap>(objects, 'ConfigMap')) {
    for (const [key, value] of Object.entries(configMap.data ?? {})) {
      const where = `${label} ConfigMap ${configMap.metadata.name}`;
      if (typeof value !== 'string') problems.push(`${where}: ${key} must be a string (quote it), got ${JSON.stringify(value)}`);
      if (SECRET_VARIABLES.includes(key)) problems.push(`${where}: ${key} is a credential; it belongs in the Secret ${SECRET_NAME}`);
      if (!allKnownVariables().has(key)) problems.push(`${where}: ${key} is read by no app (a typo?)`);
    }
  }
  return problems;
}

const QUANTITY_UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };

/** A Kubernetes memory quantity in bytes (`512Mi`, `1Gi`, `800M`), NaN when unreadable. */
function bytesOf(quantity: string | number | undefined): number {
  const match = /^(\d+(?:\.\d+)?)(k|M|G|Ki|Mi|Gi)?$/.exec(String(quantity ?? ''));
  return match ? Number(match[1]) * QUANTITY_UNITS[match[2] ?? ''] : Number.NaN;
}

/**
 * Each sandboxed app's pool size is set (a pool sized to the node's CPUs has no bound a manifest can
 * state) and its container's memory limit holds the pool's bound.
 */
function sandboxMemoryProblems(label: string, objects: Manifest[], secretValues: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const [app, variable] of Object.entries(SANDBOXED)) {
    const container = ofKind<Deployment>(objects, 'Deployment').find((d) => d.metadata.name === app)?.spec.template.spec.containers.find((c) => c.name === app);
    if (!container) continue;
    const { env } = containerEnvironment(container, objects, secretValues);
    const size = Number(env[variable] || defaultOf(app, variable) || 0);
    if (!(size > 0)) {
      problems.push(`${label} ${app}: ${variable} is not set to a pool size, so the pool takes one thread per CPU of the node and its memory has no bound`);
      continue;
    }
    const bound = processMemoryBound({ size }).processBytes;
    const limit = bytesOf(container.resources?.limits?.memory);
    if (!(limit >= bound)) {
      problems.push(`${label} ${app}: memory limit ${container.resources?.limits?.memory} is below the sandbox bound for ${size} threads (${Math.ceil(bound / 1024 ** 2)}Mi)`);
    }
  }
  return problems;
}

function kustomization(dir: string): Kustomization {
  return load(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
}

function baseObjects(): Manifest[] {
  return (kustomization(BASE_DIR).resources ?? []).flatMap((r) => readYamlDocuments(join(BASE_DIR, r)));
}

const kubectlAvailable = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;

function render(dir: string): Manifest[] {
  const result = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`kubectl kustomize ${rel(dir)} failed:\n${result.stderr}`);
  return (loadAll(result.stdout) as (Manifest | null)[]).filter((d): d is Manifest => !!d);
}

// --- compose ------------------------------------------------------------------------------------------------

interface ComposeService {
  image?: string;
  build?: string | { context?: string; args?: Record<string, string> | string[] };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | number | { target: number; published?: string | number })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
}
interface ComposeFile {
  services: Record<string, ComposeService>;
}

const composeText = () => readFileSync(COMPOSE_FILE, 'utf8');
const compose = () => load(composeText()) as ComposeFile;

/** Values for the variables compose insists on (`${VAR:?message}`), as a user would export them. */
function composeShellEnv(): Record<string, string> {
  const names = [...composeText().matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*):?\?/g)].map((m) => m[1]);
  return Object.fromEntries(names.map((name) => [name, `test-value-for-${name.toLowerCase()}-0123456789abcdef`]));
}

/** Compose's interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}. */
function interpolate(value: string, shell: Record<string, string>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (match, braced, op, arg, bare) => {
    if (match === '$$') return '$';
    const name = (braced ?? bare) as string;
    const current = shell[name];
    if (op === ':-') return current ? current : arg;
    if (op === '-') return current ?? arg;
    if (op === ':?' || op === '?') {
      if (op === ':?' ? !current : current === undefined) throw new Error(`compose needs ${name}: ${arg}`);
      return current;
    }
    return current ?? '';
  });
}

function composeEnvironment(service: ComposeService): Record<string, string> {
  const raw = service.environment ?? {};
  const entries: [string, string][] = Array.isArray(raw)
    ? raw.map((line) => {
        const at = line.indexOf('=');
        return at < 0 ? [line, ''] : [line.slice(0, at), line.slice(at + 1)];
      })
    : Object.entries(raw).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]);
  return Object.fromEntries(entries);
}

function buildArgs(service: ComposeService): Record<string, string> {
  if (!service.build || typeof service.build === 'string') return {};
  const args = service.build.args ?? {};
  return Array.isArray(args) ? Object.fromEntries(args.map((a) => [a.split('=')[0], a.split('=').slice(1).join('=')])) : args;
}

const commandOf = (service: ComposeService) => (Array.isArray(service.command) ? service.command.join(' ') : (service.command ?? ''));

// --- tests ----------------------------------------------------------------------------------------------------

describe('deployment descriptions', () => {
  it('know every app in apps/ (a new app needs its Deployment, Service, compose service and a line in this test)', () => {
    const present = readdirSync(join(ROOT, 'apps'))
      .filter((d) => existsSync(join(ROOT, 'apps', d, 'src', 'config.ts')))
      .sort();
    expect(present).toEqual([...APPS].sort());
  });

  describe('k8s/base', () => {
    it('kustomization.yaml lists exactly the manifests in the directory (the Secret template excepted)', () => {
      const listed = [...(kustomization(BASE_DIR).resources ?? [])].sort();
      const present = yamlFiles(BASE_DIR).filter((f) => f !== 'kustomization.yaml' && !f.endsWith('.example.yaml'));
      const problems = [
        ...present.filter((f) => !listed.includes(f)).map((f) => `k8s/base/${f} is not listed in kustomization.yaml resources`),
        ...listed.filter((f) => !present.includes(f)).map((f) => `kustomization.yaml lists ${f}, which is not in k8s/base`),
        ...listed.filter((f) => f.endsWith('.example.yaml')).map((f) => `kustomization.yaml lists the template ${f}; applying it would overwrite the real Secret`),
      ];
      expect(problems).toEqual([]);
    });

    it('every manifest parses and names its kind, apiVersion and name', () => {
      const problems: string[] = [];
      for (const file of yamlFiles(BASE_DIR).filter((f) => f !== 'kustomization.yaml')) {
        for (const doc of readYamlDocuments(join(BASE_DIR, file))) {
          if (!doc.apiVersion || !doc.kind || !doc.metadata?.name) problems.push(`k8s/base/${file}: a document lacks apiVersion, kind or metadata.name`);
        }
      }
      expect(problems).toEqual([]);
    });

    it.each(APPS)('%s: Deployment (probes, resources, security, env), Service and, when autoscaled, HPA', (app) => {
      const problems = clusterProblems('k8s/base', baseObjects(), secretTemplate().values).filter((p) => p.includes(` ${app}`));
      expect(problems).toEqual([]);
    });

    it('memory limits of the apps that run scripts hold their sandbox pool (docs/operations.md, sandbox memory)', () => {
      expect(sandboxMemoryProblems('k8s/base', baseObjects(), secretTemplate().values)).toEqual([]);
      // The check can fail: a pool left to the node's CPU count, or a limit below the formula.
      const unsized = structuredClone(baseObjects());
      const worker = ofKind<Deployment>(unsized, 'Deployment').find((d) => d.metadata.name === 'execution-worker')!.spec.template.spec.containers[0];
      worker.env = (worker.env ?? []).filter((v) => v.name !== 'SANDBOX_POOL_SIZE');
      expect(sandboxMemoryProblems('k8s/base', unsized, secretTemplate().values)).toEqual([expect.stringMatching(/SANDBOX_POOL_SIZE is not set/)]);
      worker.env.push({ name: 'SANDBOX_POOL_SIZE', value: '8' });
      expect(sandboxMemoryProblems('k8s/base', unsized, secretTemplate().values)).toEqual([expect.stringMatching(/below the sandbox bound for 8 threads/)]);
    });

    it('HorizontalPodAutoscalers exist for exactly execution-worker and provisioning-queue, and those Deployments leave replicas to them', () => {
      const objects = baseObjects();
      const problems = clusterProblems('k8s/base', objects, secretTemplate().values).filter(
        (p) => p.includes('HorizontalPodAutoscalers target') || p.includes('is not one of the apps'),
      );
      for (const app of AUTOSCALED) {
        const deployment = ofKind<Deployment>(objects, 'Deployment').find((d) => d.metadata.name === app);
        if (deployment?.spec.replicas !== undefined) problems.push(`k8s/base Deployment ${app}: sets replicas, which fights its HorizontalPodAutoscaler`);
      }
      expect(problems).toEqual([]);
    });

    it('the migrations Job runs the migrations CLI with DATABASE_URL, and the ConfigMap holds only known, non-secret string values', () => {
      const problems = clusterProblems('k8s/base', baseObjects(), secretTemplate().values).filter(
        (p) => p.includes(MIGRATIONS_JOB) || p.startsWith('k8s/base ConfigMap '),
      );
      expect(problems).toEqual([]);
    });

    it('the Secret template is marked as a template and holds only placeholders for known variables', () => {
      const { values } = secretTemplate();
      const problems: string[] = [];
      if (!/TEMPLATE/.test(readFileSync(SECRET_TEMPLATE_FILE, 'utf8'))) problems.push(`${rel(SECRET_TEMPLATE_FILE)}: not plainly marked as a TEMPLATE`);
      for (const [key, value] of Object.entries(values)) {
        const problem = credentialProblem(value);
        if (problem) problems.push(`${rel(SECRET_TEMPLATE_FILE)}: ${key} ${problem}`);
        if (!allKnownVariables().has(key)) problems.push(`${rel(SECRET_TEMPLATE_FILE)}: ${key} is read by no app (a typo?)`);
      }
      for (const key of ['DATABASE_URL', 'AUTH_JWT_SECRET']) {
        if (!(key in values)) problems.push(`${rel(SECRET_TEMPLATE_FILE)}: has no ${key} key`);
      }
      expect(problems).toEqual([]);
    });

    it('the placeholder rule accepts placeholders and refuses credentials', () => {
      expect(credentialProblem('change-me')).toBeUndefined();
      expect(credentialProblem('change-me-to-a-random-string-of-at-least-32-characters')).toBeUndefined();
      expect(credentialProblem('<your-jwt-secret>')).toBeUndefined();
      expect(credentialProblem('postgres://provisio:change-me@postgres:5432/provisio')).toBeUndefined();
      expect(credentialProblem('redis://redis:6379')).toBeUndefined();
      expect(credentialProblem('postgres://provisio:S3cr3t!@db:5432/provisio')).toMatch(/password/);
      expect(credentialProblem('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08')).toBeDefined();
      expect(credentialProblem('change-me-9f86d081884c7d65')).toBeDefined();
      expect(credentialProblem('hunter2')).toBeDefined();
    });

    (kubectlAvailable ? it : it.skip)('renders with kubectl kustomize and the rendered objects pass the same checks', () => {
      const objects = render(BASE_DIR);
      expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
      expect(clusterProblems('rendered k8s/base', objects, secretTemplate().values)).toEqual([]);
    });
  });

  describe('k8s/overlays/example', () => {
    it('builds on the base, overrides the image the base uses, and patches only objects the base defines', () => {
      const overlay = kustomization(OVERLAY_DIR);
      const problems: string[] = [];
      if (!overlay.namespace) problems.push('k8s/overlays/example: sets no namespace');
      for (const resource of overlay.resources ?? []) {
        const target = join(OVERLAY_DIR, resource);
        const ok = existsSync(target) && (statSync(target).isDirectory() ? existsSync(join(target, 'kustomization.yaml')) : true);
        if (!ok) problems.push(`k8s/overlays/example: resource ${resource} does not exist`);
      }
      if (!(overlay.resources ?? []).includes('../../base')) problems.push('k8s/overlays/example: does not build on ../../base');

      const objects = baseObjects();
      const baseImages = new Set(imagesOf(objects).map((image) => image.replace(/[:@].*$/, '')));
      if (!(overlay.images ?? []).length) problems.push('k8s/overlays/example: has no images: override');
      for (const image of overlay.images ?? []) {
        if (!baseImages.has(image.name)) problems.push(`k8s/overlays/example: images entry ${image.name} matches no image of the base (${[...baseImages].join(', ')})`);
        if (!image.newTag && !image.newName) problems.push(`k8s/overlays/example: images entry ${image.name} changes nothing`);
      }
      for (const patch of overlay.patches ?? []) {
        let kind = patch.target?.kind;
        let name = patch.target?.name;
        const body = patch.path ? readFileSync(join(OVERLAY_DIR, patch.path), 'utf8') : patch.patch;
        const parsed = body ? (load(body) as Manifest | unknown[]) : undefined;
        if (!kind && parsed && !Array.isArray(parsed)) ({ kind, metadata: { name } } = parsed as Manifest);
        if (!objects.some((o) => o.kind === kind && o.metadata.name === name)) problems.push(`k8s/overlays/example: a patch targets ${kind} ${name}, which the base does not define`);
      }
      expect(problems).toEqual([]);
    });

    it('its ConfigMap patches leave every app with the variables it requires, with values it accepts (checked without kubectl too)', () => {
      const overlay = kustomization(OVERLAY_DIR);
      const objects = structuredClone(baseObjects());
      for (const patch of overlay.patches ?? []) {
        const body = patch.path ? readFileSync(join(OVERLAY_DIR, patch.path), 'utf8') : patch.patch;
        const parsed = body ? (load(body) as ConfigMap | unknown[]) : undefined;
        if (!parsed || Array.isArray(parsed) || parsed.kind !== 'ConfigMap') continue;
        const target = ofKind<ConfigMap>(objects, 'ConfigMap').find((c) => c.metadata.name === parsed.metadata.name);
        if (target) target.data = { ...target.data, ...parsed.data };
      }
      const problems = clusterProblems('k8s/overlays/example', objects, secretTemplate().values).filter((p) => /ConfigMap|required|refused/.test(p));
      expect(problems).toEqual([]);
    });

    it('its Deployment patches keep the memory limits of the apps that run scripts above their sandbox bound', () => {
      const overlay = kustomization(OVERLAY_DIR);
      const objects = structuredClone(baseObjects());
      for (const patch of overlay.patches ?? []) {
        const parsed = patch.patch ? (load(patch.patch) as Deployment | unknown[]) : undefined;
        if (!parsed || Array.isArray(parsed) || parsed.kind !== 'Deployment') continue;
        const target = ofKind<Deployment>(objects, 'Deployment').find((d) => d.metadata.name === parsed.metadata.name);
        for (const patched of parsed.spec?.template?.spec?.containers ?? []) {
          const container = target?.spec.template.spec.containers.find((c) => c.name === patched.name);
          if (container && patched.resources) container.resources = { ...container.resources, ...patched.resources };
          if (container && patched.env) container.env = [...(container.env ?? []).filter((v) => !patched.env!.some((p) => p.name === v.name)), ...patched.env];
        }
      }
      expect(sandboxMemoryProblems('k8s/overlays/example', objects, secretTemplate().values)).toEqual([]);
    });

    (kubectlAvailable ? it : it.skip)('renders with kubectl kustomize: new namespace and image, and still passes every check', () => {
      const overlay = kustomization(OVERLAY_DIR);
      const objects = render(OVERLAY_DIR);
      const problems = [...clusterProblems('rendered k8s/overlays/example', objects, secretTemplate().values), ...sandboxMemoryProblems('rendered k8s/overlays/example', objects, secretTemplate().values)];
      for (const o of objects) {
        if (o.kind !== 'Namespace' && o.metadata.namespace !== overlay.namespace) problems.push(`rendered overlay: ${o.kind} ${o.metadata.name} is in namespace ${o.metadata.namespace}`);
      }
      const expectedImages = (overlay.images ?? []).map((i) => `${i.newName ?? i.name}:${i.newTag}`);
      for (const image of imagesOf(objects)) {
        if (!expectedImages.includes(image)) problems.push(`rendered overlay: image ${image} is not the override (${expectedImages.join(', ')})`);
      }
      expect(problems).toEqual([]);
    });
  });

  describe('docker-compose.yml', () => {
    it.each(APPS)('%s: built from the Dockerfile with APP, port published, waits for healthy dependencies and the migrations', (app) => {
      const services = compose().services;
      const service = services[app];
      const problems: string[] = [];
      if (!service) {
        problems.push(`docker-compose.yml: no service for app ${app}`);
      } else {
        const port = Number(defaultOf(app, 'PORT'));
        if (buildArgs(service).APP !== app) problems.push(`docker-compose.yml ${app}: build.args.APP is not ${app}`);
        const env = composeEnvironment(service);
        const listens = Number(env.PORT || port);
        const published = (service.ports ?? []).some((p) => (typeof p === 'object' ? Number(p.target) === listens : String(p).endsWith(`:${listens}`)));
        if (!published) problems.push(`docker-compose.yml ${app}: port ${listens} is not published`);
        const dependsOn: Record<string, { condition?: string }> = Array.isArray(service.depends_on) ? {} : (service.depends_on ?? {});
        for (const [dependency, condition] of [
          ['kafka', 'service_healthy'],
          ['postgres', 'service_healthy'],
          ['migrations', 'service_completed_successfully'],
        ]) {
          if (dependsOn[dependency]?.condition !== condition) problems.push(`docker-compose.yml ${app}: depends_on ${dependency} is not "condition: ${condition}"`);
          if (condition === 'service_healthy' && !services[dependency]?.healthcheck?.test) problems.push(`docker-compose.yml ${dependency}: has no healthcheck for ${app} to wait on`);
        }
        if (requiredVariables(app).includes('REDIS_URL') && dependsOn.redis?.condition !== 'service_healthy') {
          problems.push(`docker-compose.yml ${app}: uses Redis but does not depend on redis being healthy`);
        }
      }
      expect(problems).toEqual([]);
    });

    it.each(APPS)('%s: its environment provides every variable the app requires, with values the app accepts', (app) => {
      const service = compose().services[app];
      expect(service).toBeDefined();
      const shell = composeShellEnv();
      const env = Object.fromEntries(Object.entries(composeEnvironment(service)).map(([k, v]) => [k, interpolate(v, shell)]));
      expect(environmentProblems('docker-compose.yml service', app, env, 'its environment (x-provisio-env)')).toEqual([]);
    });

    it('runs Kafka in KRaft mode, PostgreSQL 15, Redis 7 and a one-shot migrations service', () => {
      const services = compose().services;
      const problems: string[] = [];
      const kafkaEnv = services.kafka ? composeEnvironment(services.kafka) : {};
      if (services.kafka?.image !== 'apache/kafka:3.9.1') problems.push('docker-compose.yml kafka: image is not apache/kafka:3.9.1');
      if (!/broker/.test(kafkaEnv.KAFKA_PROCESS_ROLES ?? '') || !/controller/.test(kafkaEnv.KAFKA_PROCESS_ROLES ?? '')) {
        problems.push('docker-compose.yml kafka: KAFKA_PROCESS_ROLES is not broker,controller (KRaft, combined)');
      }
      if (!/PLAINTEXT:\/\/kafka:9092/.test(kafkaEnv.KAFKA_ADVERTISED_LISTENERS ?? '')) problems.push('docker-compose.yml kafka: does not advertise PLAINTEXT://kafka:9092 to the other containers');
      if (!String(services.postgres?.image).startsWith('postgres:15')) problems.push('docker-compose.yml postgres: image is not postgres:15');
      if (!String(services.redis?.image).startsWith('redis:7')) problems.push('docker-compose.yml redis: image is not redis:7');
      const migrations = services.migrations;
      if (!migrations) problems.push('docker-compose.yml: no migrations service');
      else {
        if (commandOf(migrations) !== 'node migrations/dist/cli.js run') problems.push(`docker-compose.yml migrations: runs "${commandOf(migrations)}"`);
        if (!migrations.build) problems.push('docker-compose.yml migrations: is not built from the Dockerfile');
        const env = composeEnvironment(migrations);
        if (!env.DATABASE_URL) problems.push('docker-compose.yml migrations: DATABASE_URL is required but not provided');
      }
      expect(problems).toEqual([]);
    });

    it('holds no credentials: secrets and passwords come from the shell (${VAR:?...})', () => {
      const problems: string[] = [];
      for (const [name, service] of Object.entries(compose().services)) {
        for (const [key, value] of Object.entries(composeEnvironment(service))) {
          const secretLike = SECRET_VARIABLES.includes(key) || /PASSWORD|SECRET|TOKEN|_KEY$/.test(key);
          if (!secretLike) continue;
          const withoutVariables = value.replace(/\$\{[^}]*\}/g, '');
          if (key === 'DATABASE_URL' || /^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
            const password = /^[a-z][a-z0-9+.-]*:\/\/[^:/@]*:([^@]*)@/i.exec(value)?.[1];
            if (password !== undefined && !/^\$\{[A-Za-z_][A-Za-z0-9_]*(:?[?][^}]*)?\}$/.test(password)) {
              problems.push(`docker-compose.yml ${name}: ${key} has a literal password; take it from \${VAR:?...}`);
            }
          } else if (withoutVariables.trim() !== '' || !/\$\{[A-Za-z_][A-Za-z0-9_]*:?\?[^}]*\}/.test(value)) {
            problems.push(`docker-compose.yml ${name}: ${key} is not taken from the shell with \${${key}:?...}`);
          }
        }
      }
      const env = composeEnvironment(compose().services['script-registry'] ?? {});
      if (!/^\$\{AUTH_JWT_SECRET:\?[^}]+\}$/.test(env.AUTH_JWT_SECRET ?? '')) problems.push('docker-compose.yml: AUTH_JWT_SECRET is not ${AUTH_JWT_SECRET:?...}');
      expect(problems).toEqual([]);
    });
  });

  describe('Dockerfile', () => {
    const dockerfile = () => readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const instructions = () =>
      dockerfile()
        .replace(/\\\n/g, ' ')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith('#'));

    it('builds any app through ARG APP and starts it as a non-root USER', () => {
      const lines = instructions();
      // The runtime stage: everything from the last FROM on.
      const lastFrom = lines.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true);
      const runtime = lastFrom < 0 ? [] : lines.slice(lastFrom);
      const problems: string[] = [];
      if (!runtime.some((l) => /^ARG\s+APP(=|\s|$)/i.test(l))) problems.push('Dockerfile: the runtime stage has no ARG APP');
      const users = runtime.filter((l) => /^USER\s/i.test(l));
      const user = users[users.length - 1]?.split(/\s+/)[1];
      if (!user) problems.push('Dockerfile: the runtime stage sets no USER');
      else if (/^(root|0)(:|$)/.test(user)) problems.push(`Dockerfile: the runtime stage runs as ${user}`);
      const cmd = runtime.find((l) => /^CMD\s/i.test(l)) ?? '';
      if (!/apps\/\$\{?APP\}?\/dist\/main\.js/.test(cmd)) problems.push('Dockerfile: CMD does not start apps/${APP}/dist/main.js');
      if (!lines.some((l) => /^FROM\s+(\$\{NODE_IMAGE\}|node:20-bookworm-slim)/i.test(l)) || !/node:20-bookworm-slim/.test(dockerfile())) {
        problems.push('Dockerfile: not based on node:20-bookworm-slim');
      }
      if (!runtime.some((l) => /^ENV\s.*NODE_ENV=production/i.test(l))) problems.push('Dockerfile: the runtime stage does not set NODE_ENV=production');
      if (lines.some((l) => /^HEALTHCHECK\s/i.test(l))) problems.push('Dockerfile: has a HEALTHCHECK (Kubernetes probes do that job)');
      expect(problems).toEqual([]);
    });

    it('.dockerignore keeps node_modules, dist, .stack, .nx, .git and coverage out of the build context', () => {
      const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
        .split('\n')
        .map((l) => l.trim().replace(/^\*\*\//, '').replace(/\/$/, ''));
      const missing = ['node_modules', 'dist', '.stack', '.nx', '.git', 'coverage'].filter((p) => !ignored.includes(p));
      expect(missing).toEqual([]);
    });
  });
});
