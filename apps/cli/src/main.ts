import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ApiClient, ApiError } from './api-client';
import { CliConfig, defaultWorkerUrl, loadConfig, NotLoggedInError, saveConfig } from './cli-config';
import { defaultParamsOf, pull, push } from './commands/scripts-sync';
import { fixture, FIXTURES } from './fixtures/fixtures';
import { createOutput, dim, ExitCode, ExitCodeValue, green, Output, red, statusColour, table, UsageError, yellow } from './output';

/**
 * `provisio`: the command line of Provisio for people who write scripts and hooks (docs/cli.md). It
 * talks to the script registry (scripts, validation, dry runs, executions) and to the execution worker
 * (dead letters) with the token `login` stored; every command prints for a person, or JSON with `--json`,
 * and exits with a code that says how it went (`ExitCode`).
 */

interface Execution {
  id: string;
  script_id: string;
  status: string;
  trigger_type: string;
  started_at: string | null;
  completed_at: string | null;
  error: string | null;
  output?: unknown;
  finished: boolean;
  metrics?: { duration_ms?: number } | null;
  logs?: { level: string; message: string }[];
}

const readText = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
};

const readJson = (file: string): unknown => {
  try {
    return JSON.parse(readText(file));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${file} is not JSON: ${(error as Error).message}`);
  }
};

/** A script by id or by name (names are unique per tenant). */
async function scriptId(api: ApiClient, nameOrId: string): Promise<string> {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(nameOrId)) return nameOrId;
  const found = (await api.all<{ id: string; name: string }>('/scripts', { status: 'draft,active,paused,disabled,archived' })).find((s) => s.name === nameOrId);
  if (!found) throw new ApiError(404, { code: 'not_found', message: `no script named ${nameOrId}` }, '/scripts');
  return found.id;
}

const executionLine = (e: Execution, names: Map<string, string>) => [
  dim(e.started_at ?? ''),
  e.id,
  names.get(e.script_id) ?? e.script_id,
  e.trigger_type,
  statusColour(e.status),
  e.metrics?.duration_ms !== undefined ? `${Math.round(e.metrics.duration_ms)} ms` : '',
  e.error ? red(e.error.split('\n')[0].slice(0, 120)) : '',
];

function dlqFilters(command: Command): Command {
  return command
    .option('--script <name-or-id>', 'only dead letters of this script')
    .option('--event-type <type>', 'only events of this type (e.g. user.created)')
    .option('--from <time>', 'dead-lettered at or after (ISO 8601)')
    .option('--to <time>', 'dead-lettered before (ISO 8601)')
    .option('--error <text>', 'only those whose error contains this text');
}

async function dlqBody(api: ApiClient, options: { script?: string; eventType?: string; from?: string; to?: string; error?: string }): Promise<Record<string, string>> {
  return Object.fromEntries(
    Object.entries({
      script_id: options.script ? await scriptId(api, options.script) : undefined,
      event_type: options.eventType,
      from: options.from,
      to: options.to,
      error_contains: options.error,
    }).filter(([, v]) => v !== undefined),
  ) as Record<string, string>;
}

export function buildProgram(out: Output, env: NodeJS.ProcessEnv, setExit: (code: ExitCodeValue) => void): Command {
  const api = () => new ApiClient(loadConfig(env));
  const program = new Command('provisio')
    .description("Provisio's command line: pull and push scripts, validate and dry-run them with realistic fixtures, follow executions, replay dead letters")
    .option('--json', 'print JSON instead of text')
    .showHelpAfterError();

  program
    .command('login')
    .description('store the registry URL and a token in the config dir (PROVISIO_URL / PROVISIO_TOKEN override it)')
    .requiredOption('--url <url>', 'the script registry, e.g. http://localhost:3001')
    .requiredOption('--token <token>', 'a JWT (locally: npm run token -- --tenant … --permissions …)')
    .option('--worker-url <url>', 'the execution worker (dead letters); default: the registry host on port 3002')
    .action(async (options: { url: string; token: string; workerUrl?: string }) => {
      let url: string;
      try {
        url = new URL(options.url).toString().replace(/\/$/, '');
      } catch {
        throw new UsageError(`--url ${options.url} is not a URL`);
      }
      const config: CliConfig = { url, token: options.token, workerUrl: (options.workerUrl ?? defaultWorkerUrl(url)).replace(/\/$/, '') };
      // Checked before it is stored: a wrong token or URL fails here, not at the next command.
      await new ApiClient(config).registry('GET', '/scripts?limit=1');
      const file = saveConfig(config, env);
      out.result({ url: config.url, worker_url: config.workerUrl, config_file: file }, () => out.line(`logged in to ${config.url} (saved in ${file})`));
    });

  const scripts = program.command('scripts').description('scripts as .js files plus a manifest (provisio.json)');
  scripts
    .command('pull <dir>')
    .description("write the tenant's scripts into <dir>: one .js file each and provisio.json (type, triggers, limits, parameters)")
    .option('--script <name-or-id>', 'only this script')
    .action(async (dir: string, options: { script?: string }) => {
      const manifest = await pull(api(), dir, options.script);
      out.result(manifest, () => {
        for (const s of manifest.scripts) out.line(`${s.file.padEnd(32)} ${s.type.padEnd(9)} ${s.name}`);
        out.line(`pulled ${manifest.scripts.length} script(s) into ${dir}`);
      });
    });
  scripts
    .command('push <dir>')
    .description('create or update the scripts of <dir>: shows the diff; a new version only when the source changed')
    .option('--dry-run', 'show what would change, change nothing')
    .option('-m, --message <text>', 'change description of the new versions')
    .action(async (dir: string, options: { dryRun?: boolean; message?: string }) => {
      const changes = await push(api(), dir, { dryRun: !!options.dryRun, message: options.message });
      out.result(changes, () => {
        for (const c of changes) {
          if (c.diff) out.line(c.diff.trimEnd());
          const what = [c.new_version ? `version ${c.new_version}` : null, c.changed_fields.length ? `fields: ${c.changed_fields.join(', ')}` : null, c.parameters_changed ? 'parameters' : null].filter(Boolean).join('; ');
          const label = c.action === 'unchanged' ? dim('unchanged') : c.action === 'created' ? green('created') : yellow('updated');
          out.line(`${options.dryRun ? '(dry run) ' : ''}${label} ${c.name}${what ? ` (${what})` : ''}`);
        }
      });
    });

  program
    .command('validate <file>')
    .description('compile a script without running it: syntax errors with line and column, warnings')
    .action(async (file: string) => {
      const result = await api().registry<{ valid: boolean; errors: { line: number; column: number; message: string }[]; warnings: { line?: number; column?: number; message: string }[] }>('POST', '/scripts/validate', { source: readText(file) });
      out.result(result, () => {
        for (const e of result.errors) out.line(`${file}:${e.line}:${e.column}: ${red('error')} ${e.message}`);
        for (const w of result.warnings) out.line(`${file}${w.line ? `:${w.line}:${w.column ?? 0}` : ''}: ${yellow('warning')} ${w.message}`);
        if (result.valid) out.line(`${green('valid')} ${file}`);
      });
      if (!result.valid) setExit(ExitCode.Failed);
    });

  program
    .command('dry-run <file>')
    .description('run a script in the registry sandbox with a shipped fixture or your own context; fetch is recorded, never sent')
    .addOption(new Option('--fixture <name>', 'a shipped context (see `provisio fixtures`)').conflicts('context'))
    .option('--context <file.json>', 'your own ctx as JSON')
    .option('--script <name-or-id>', "run with this stored script's limits and record the run against it")
    .action(async (file: string, options: { fixture?: string; context?: string; script?: string }) => {
      let context: unknown = {};
      if (options.fixture) {
        const found = fixture(options.fixture);
        if (!found) throw new UsageError(`no fixture ${options.fixture}; there are: ${Object.keys(FIXTURES).join(', ')}`);
        context = found.context;
      } else if (options.context) context = readJson(options.context);
      // As the worker would give it: `ctx.params` from the parameters' defaults in the manifest beside the file.
      const params = defaultParamsOf(file);
      if (params && context && typeof context === 'object' && !Array.isArray(context) && !('params' in context)) context = { ...context, params };
      const client = api();
      const result = await client.registry<{ success: boolean; status: string; output: string | null; error: string | null; duration_ms: number; logs: { level: string; message: string }[]; fetch_requests: { method: string; url: string }[] }>(
        'POST',
        '/scripts/dry-run',
        { source: readText(file), context, ...(options.script ? { script_id: await scriptId(client, options.script) } : {}) },
      );
      out.result(result, () => {
        for (const l of result.logs) out.line(`${dim(l.level.padEnd(5))} ${l.message}`);
        for (const f of result.fetch_requests) out.line(`${dim('fetch')} ${f.method} ${f.url} ${dim('(recorded, not sent)')}`);
        out.line(`${statusColour(result.status)} in ${Math.round(result.duration_ms)} ms`);
        if (result.output !== null) out.line(JSON.stringify(JSON.parse(result.output), null, 2));
        if (result.error) out.line(red(result.error));
      });
      if (!result.success) setExit(ExitCode.Failed);
    });

  program
    .command('fixtures [name]')
    .description('list the shipped fixtures, or print one (to edit into your own --context file)')
    .action((name?: string) => {
      if (name) {
        const found = fixture(name);
        if (!found) throw new UsageError(`no fixture ${name}; there are: ${Object.keys(FIXTURES).join(', ')}`);
        out.result(found.context, () => out.line(JSON.stringify(found.context, null, 2)));
        return;
      }
      out.result(Object.entries(FIXTURES).map(([n, f]) => ({ name: n, description: f.description })), () => out.line(table(Object.entries(FIXTURES).map(([n, f]) => [n, f.description]))));
    });

  const executions = program.command('executions').description('runs of scripts: start, list, follow, cancel');
  executions
    .command('run <script>')
    .description('run a script now (trigger manual) with --input; waits for it with --wait')
    .option('--input <json-or-@file>', 'the input: JSON, or @file.json')
    .option('--wait <seconds>', 'wait up to this long for it to finish (≤ 60)', '0')
    .action(async (script: string, options: { input?: string; wait: string }) => {
      const client = api();
      const input = options.input === undefined ? {} : options.input.startsWith('@') ? readJson(options.input.slice(1)) : (() => {
        try {
          return JSON.parse(options.input);
        } catch {
          throw new UsageError('--input must be JSON (or @file.json)');
        }
      })();
      let execution = await client.registry<Execution>('POST', `/scripts/${await scriptId(client, script)}/executions`, { input });
      if (Number(options.wait) > 0) execution = await client.registry<Execution>('GET', `/executions/${execution.id}?wait=${Math.min(60, Number(options.wait))}`);
      out.result(execution, () => out.line(`${execution.id} ${statusColour(execution.status)}${execution.error ? ` ${red(execution.error)}` : ''}${execution.output !== undefined && execution.output !== null ? `\n${JSON.stringify(execution.output, null, 2)}` : ''}`));
      if (['failed', 'timeout'].includes(execution.status)) setExit(ExitCode.Failed);
    });
  executions
    .command('get <id>')
    .description('one execution with its logs')
    .option('--wait <seconds>', 'wait up to this long for it to finish (≤ 60)', '0')
    .action(async (id: string, options: { wait: string }) => {
      const e = await api().registry<Execution>('GET', `/executions/${id}?wait=${Math.min(60, Number(options.wait) || 0)}`);
      out.result(e, () => {
        out.line(table([executionLine(e, new Map())]));
        for (const l of e.logs ?? []) out.line(`  ${dim(l.level.padEnd(5))} ${l.message}`);
      });
    });
  executions
    .command('list')
    .description('recent executions, newest first')
    .option('--script <name-or-id>')
    .option('--status <list>', 'e.g. failed,timeout')
    .option('--limit <n>', 'how many', '20')
    .action(async (options: { script?: string; status?: string; limit: string }) => {
      const client = api();
      const query = new URLSearchParams({ limit: options.limit, ...(options.script ? { script_id: await scriptId(client, options.script) } : {}), ...(options.status ? { status: options.status } : {}) });
      const page = await client.registry<{ items: Execution[]; total: number }>('GET', `/executions?${query}`);
      out.result(page, () => out.line(page.items.length ? table(page.items.map((e) => executionLine(e, new Map()))) : 'no executions'));
    });
  executions
    .command('tail')
    .description('follow executions as they are recorded finished, each once, in the order recorded (Ctrl-C to stop)')
    .option('--script <name-or-id>', 'only this script')
    .option('--status <list>', 'only these statuses (e.g. failed,timeout)')
    .option('--trigger <list>', 'only these triggers (e.g. event,cron)')
    .option('--after <cursor>', 'start after this cursor (a `cursor` printed with --json) instead of now')
    .option('--for <seconds>', 'stop after this long (default: never)')
    .action(async (options: { script?: string; status?: string; trigger?: string; after?: string; for?: string }) => {
      const client = api();
      const id = options.script ? await scriptId(client, options.script) : undefined;
      const names = new Map((await client.all<{ id: string; name: string }>('/scripts', { status: 'draft,active,paused,disabled,archived' })).map((s) => [s.id, s.name]));
      const query = new URLSearchParams({
        ...(id ? { script_id: id } : {}),
        ...(options.status ? { status: options.status } : {}),
        ...(options.trigger ? { trigger_type: options.trigger } : {}),
        ...(options.after ? { after: options.after } : {}),
      });
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      const timer = options.for ? setTimeout(onSignal, Number(options.for) * 1000) : undefined;
      try {
        // The registry's stream (keyset cursor on when each run was recorded): nothing missed, nothing twice, resumed after a dropped connection.
        await client.follow(
          `/executions/stream?${query}`,
          (event) => {
            if (event.type === 'ready') return void (out.json ? undefined : out.line(dim(`following executions${options.script ? ` of ${options.script}` : ''}…`)));
            if (event.type !== 'execution') return;
            const e = JSON.parse(event.data) as Execution;
            if (out.json) process.stdout.write(`${JSON.stringify(e)}\n`);
            else out.line(table([executionLine(e, names)]));
          },
          stop.signal,
        );
      } finally {
        clearTimeout(timer);
        process.removeListener('SIGINT', onSignal);
      }
    });
  executions
    .command('cancel <id>')
    .description('cancel a pending or running execution')
    .action(async (id: string) => {
      const e = await api().registry<Execution>('POST', `/executions/${id}/cancel`);
      out.result(e, () => out.line(`${e.id} ${statusColour(e.status)}`));
    });

  const dlq = program.command('dlq').description('dead letters of event-triggered runs (the execution worker)');
  dlqFilters(dlq.command('list').description('dead letters, newest first'))
    .option('--limit <n>', 'how many', '50')
    .action(async (options: { script?: string; eventType?: string; from?: string; to?: string; error?: string; limit: string }) => {
      const client = api();
      const query = new URLSearchParams({ ...(await dlqBody(client, options)), limit: options.limit });
      const page = await client.worker<{ items: { id: string; script_id: string; event_type: string; error: string; retry_count: number; created_at: string }[]; total: number }>('GET', `/dead-letters?${query}`);
      out.result(page, () => {
        out.line(page.items.length ? table(page.items.map((d) => [dim(d.created_at), d.id, d.event_type, `replays ${d.retry_count}`, red(d.error.split('\n')[0].slice(0, 100))])) : 'no dead letters');
        if (page.total > page.items.length) out.line(dim(`… ${page.total - page.items.length} more`));
      });
    });
  dlqFilters(dlq.command('replay').description('run the matching dead-lettered events again, each at most once'))
    .addOption(new Option('--version <which>', 'original: the version that failed; latest: the live one (after a fix)').choices(['original', 'latest']).default('latest'))
    .action(async (options: { script?: string; eventType?: string; from?: string; to?: string; error?: string; version: string }) => {
      const client = api();
      const result = await client.worker<{ replayed: number }>('POST', '/dead-letters/replay', { ...(await dlqBody(client, options)), version: options.version });
      out.result(result, () => out.line(`replayed ${result.replayed} dead letter(s) against the ${options.version} version`));
    });
  dlqFilters(dlq.command('discard').description('delete the matching dead letters'))
    .action(async (options: { script?: string; eventType?: string; from?: string; to?: string; error?: string }) => {
      const client = api();
      const result = await client.worker<{ discarded: number }>('POST', '/dead-letters/discard', await dlqBody(client, options));
      out.result(result, () => out.line(`discarded ${result.discarded} dead letter(s)`));
    });

  return program;
}

function exitCodeOf(error: unknown): ExitCodeValue {
  if (error instanceof UsageError) return ExitCode.Usage;
  if (error instanceof NotLoggedInError) return ExitCode.Auth;
  if (error instanceof ApiError) {
    if (error.status === 401 || error.status === 403) return ExitCode.Auth;
    if (error.status === 404) return ExitCode.NotFound;
    if (error.status === 409) return ExitCode.Conflict;
    if (error.status >= 500) return ExitCode.Unavailable;
    return ExitCode.Failed;
  }
  return ExitCode.Unavailable;
}

/** Runs the CLI on `argv` (`process.argv`); answers the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const json = argv.includes('--json');
  const out = createOutput(json);
  let code: ExitCodeValue = ExitCode.Ok;
  const program = buildProgram(out, env, (c) => (code = c));
  program.exitOverride();
  program.configureOutput({ writeErr: (text) => process.stderr.write(text) });
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  try {
    await program.parseAsync(argv);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    const message = error instanceof TypeError && /fetch failed/.test(error.message) ? `cannot reach the service: ${(error.cause as Error)?.message ?? error.message}` : (error as Error).message;
    if (json) process.stdout.write(`${JSON.stringify({ error: message, ...(error instanceof ApiError ? { status: error.status, body: error.body } : {}) })}\n`);
    out.error(message);
    return exitCodeOf(error);
  }
}
