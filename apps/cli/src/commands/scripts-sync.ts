import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { basename, dirname, join } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import type { ApiClient } from '../api-client';
import { UsageError } from '../output';

/** The manifest of a pulled directory: `provisio.json` beside one `.js` file per script. */
export const MANIFEST = 'provisio.json';

/** Script fields the manifest carries (besides `name`, `file`, `id`, `type` and `parameters`). */
const FIELDS = ['description', 'event_types', 'cron_expression', 'timezone', 'http_path', 'http_methods', 'resource_limits', 'required_permissions', 'tags', 'metadata'] as const;
/** Parameter fields a definition carries (what `PUT /scripts/{id}/parameters` takes). */
const PARAMETER_FIELDS = ['name', 'label', 'description', 'type', 'required', 'default_value', 'is_secret', 'validation_rules', 'options', 'placeholder', 'help_text', 'group_name', 'is_advanced', 'display_order', 'depends_on', 'depends_on_condition'] as const;

export interface ManifestScript {
  name: string;
  file: string;
  id?: string;
  type: string;
  parameters?: Record<string, unknown>[];
  [field: string]: unknown;
}

export interface Manifest {
  scripts: ManifestScript[];
}

type RemoteScript = Record<string, unknown> & { id: string; name: string; type: string; source: string; current_version: number };

const slug = (name: string) => name.toLowerCase().normalize('NFKD').replace(/[^\w\s-]/g, '').trim().replace(/[\s_]+/g, '-').replace(/-+/g, '-').slice(0, 80) || 'script';

function defined(object: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== null && v !== undefined));
}

/** A parameter as the manifest and PUT hold it (no ids, timestamps, nulls or defaults). */
function parameterOf(p: Record<string, unknown>): Record<string, unknown> {
  const kept = defined(Object.fromEntries(PARAMETER_FIELDS.map((f) => [f, p[f]])));
  for (const [field, empty] of [['required', false], ['is_secret', false], ['is_advanced', false]] as const) if (kept[field] === empty) delete kept[field];
  if (kept.validation_rules && Object.keys(kept.validation_rules as object).length === 0) delete kept.validation_rules;
  if (kept.type === 'password') delete kept.is_secret;
  return kept;
}

const normalisedParameters = (list: Record<string, unknown>[] | undefined) => (list ?? []).map((p, i) => ({ display_order: i, ...parameterOf(p) }));

export async function pull(api: ApiClient, dir: string, only?: string): Promise<Manifest> {
  const summaries = await api.all<{ id: string; name: string }>('/scripts');
  const chosen = only ? summaries.filter((s) => s.id === only || s.name === only) : summaries;
  if (only && chosen.length === 0) throw new UsageError(`no script named ${only}`);
  mkdirSync(dir, { recursive: true });
  const used = new Set<string>();
  const scripts: ManifestScript[] = [];
  for (const summary of chosen) {
    const script = await api.registry<RemoteScript>('GET', `/scripts/${summary.id}`);
    const { parameters } = await api.registry<{ parameters: Record<string, unknown>[] }>('GET', `/scripts/${summary.id}/parameters`);
    let file = `${slug(script.name)}.js`;
    for (let n = 2; used.has(file); n++) file = `${slug(script.name)}-${n}.js`;
    used.add(file);
    writeFileSync(join(dir, file), script.source.endsWith('\n') ? script.source : `${script.source}\n`);
    scripts.push({
      name: script.name,
      file,
      id: script.id,
      type: script.type,
      ...defined(Object.fromEntries(FIELDS.map((f) => [f, script[f]]))),
      ...(parameters.length ? { parameters: parameters.map(parameterOf) } : {}),
    });
  }
  const manifest = { scripts };
  writeFileSync(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/**
 * The `ctx.params` a run of `file` would get from its parameters' defaults, as the manifest beside it
 * says (`provisio.json` in its directory; undefined without one or without an entry for the file).
 * Secret defaults are not in the manifest: they read "********" here, as `pull` wrote them.
 */
export function defaultParamsOf(file: string): Record<string, unknown> | undefined {
  const dir = dirname(file);
  if (!existsSync(join(dir, MANIFEST))) return undefined;
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
  const entry = Array.isArray(manifest?.scripts) ? manifest.scripts.find((s) => s?.file === basename(file)) : undefined;
  if (!entry?.parameters?.length) return undefined;
  return Object.fromEntries(entry.parameters.filter((p) => typeof p.name === 'string' && p.default_value !== undefined && p.default_value !== null).map((p) => [p.name as string, p.default_value]));
}

export function readManifest(dir: string): Manifest {
  const file = join(dir, MANIFEST);
  if (!existsSync(file)) throw new UsageError(`${file} does not exist (run \`provisio scripts pull ${dir}\` first, or write one: docs/cli.md)`);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch (error) {
    throw new UsageError(`${file} is not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(manifest?.scripts)) throw new UsageError(`${file} must hold { "scripts": [ … ] }`);
  for (const [i, s] of manifest.scripts.entries()) {
    if (typeof s?.name !== 'string' || typeof s.file !== 'string' || typeof s.type !== 'string') throw new UsageError(`${file}: scripts[${i}] needs name, file and type`);
    if (!existsSync(join(dir, s.file))) throw new UsageError(`${file}: scripts[${i}].file ${s.file} does not exist`);
  }
  return manifest;
}

export interface PushChange {
  name: string;
  id: string;
  action: 'created' | 'updated' | 'unchanged';
  /** A new version was created (the source changed). */
  new_version: number | null;
  changed_fields: string[];
  parameters_changed: boolean;
  /** Unified diff of the source (empty when it did not change). */
  diff: string;
}

/**
 * Creates the scripts the manifest names that do not exist (by id, else by name) and updates the
 * others: a new version only when the source changed, the other fields only when they differ, the
 * parameters only when their definitions differ. `dryRun` computes the changes without making them.
 */
export async function push(api: ApiClient, dir: string, options: { dryRun: boolean; message?: string }): Promise<PushChange[]> {
  const manifest = readManifest(dir);
  const remote = await api.all<{ id: string; name: string }>('/scripts');
  const changes: PushChange[] = [];
  for (const entry of manifest.scripts) {
    const source = readFileSync(join(dir, entry.file), 'utf8');
    const fields = defined(Object.fromEntries(FIELDS.map((f) => [f, entry[f]])));
    const found = remote.find((r) => (entry.id ? r.id === entry.id : r.name === entry.name));
    if (!found) {
      const diff = createTwoFilesPatch('/dev/null', entry.file, '', source);
      if (options.dryRun) {
        changes.push({ name: entry.name, id: '', action: 'created', new_version: 1, changed_fields: Object.keys(fields), parameters_changed: !!entry.parameters?.length, diff });
        continue;
      }
      const created = await api.registry<RemoteScript>('POST', '/scripts', { name: entry.name, type: entry.type, source, ...fields, ...(options.message ? { change_description: options.message } : {}) });
      if (entry.parameters?.length) await api.registry('PUT', `/scripts/${created.id}/parameters`, { parameters: entry.parameters });
      changes.push({ name: entry.name, id: created.id, action: 'created', new_version: created.current_version, changed_fields: Object.keys(fields), parameters_changed: !!entry.parameters?.length, diff });
      continue;
    }
    const current = await api.registry<RemoteScript>('GET', `/scripts/${found.id}`);
    const { parameters: currentParameters } = await api.registry<{ parameters: Record<string, unknown>[] }>('GET', `/scripts/${found.id}/parameters`);
    const sourceChanged = current.source.replace(/\n$/, '') !== source.replace(/\n$/, '');
    const changed = Object.entries(fields).filter(([f, v]) => !isDeepStrictEqual(f === 'resource_limits' ? { ...(current[f] as object), ...(v as object) } : v, current[f]));
    if (entry.name !== current.name) changed.unshift(['name', entry.name]);
    const parametersChanged = entry.parameters !== undefined && !isDeepStrictEqual(normalisedParameters(entry.parameters), normalisedParameters(currentParameters));
    const patch = { ...Object.fromEntries(changed), ...(sourceChanged ? { source, ...(options.message ? { change_description: options.message } : {}) } : {}) };
    let version: number | null = null;
    if (!options.dryRun && Object.keys(patch).length) {
      const updated = await api.registry<RemoteScript>('PATCH', `/scripts/${found.id}`, patch);
      if (sourceChanged) version = updated.current_version;
    } else if (sourceChanged) version = current.current_version + 1;
    if (!options.dryRun && parametersChanged) await api.registry('PUT', `/scripts/${found.id}/parameters`, { parameters: entry.parameters });
    changes.push({
      name: entry.name,
      id: found.id,
      action: sourceChanged || changed.length || parametersChanged ? 'updated' : 'unchanged',
      new_version: version,
      changed_fields: changed.map(([f]) => f),
      parameters_changed: parametersChanged,
      diff: sourceChanged ? createTwoFilesPatch(`${entry.file} (v${current.current_version})`, entry.file, current.source.endsWith('\n') ? current.source : `${current.source}\n`, source.endsWith('\n') ? source : `${source}\n`) : '',
    });
  }
  return changes;
}
