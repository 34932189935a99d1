// Starts a sandbox worker thread. Built code runs `sandbox.worker.js` next to this file. Under a
// TypeScript loader (jest runs the sources) there is no .js to run, so the worker is bootstrapped with
// a require hook that compiles the .ts sources with SWC (a dev dependency) — the tests then exercise
// the real threads and the current sources, never a stale dist/.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker, type ResourceLimits, type WorkerOptions } from 'node:worker_threads';

const TS_BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
const { createRequire } = require('node:module');
const { readFileSync } = require('node:fs');
const entry = workerData.__sandboxEntry;
const req = createRequire(entry);
const swc = req('@swc/core');
require.extensions['.ts'] = function compileTs(module, filename) {
  const { code } = swc.transformSync(readFileSync(filename, 'utf8'), {
    filename,
    sourceMaps: 'inline',
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};
req(entry);
`;

export interface SpawnOptions {
  workerFile?: string;
  workerData: Record<string, unknown>;
  resourceLimits?: ResourceLimits;
}

/** Path of the worker entry next to this module (`.js` when built, `.ts` under a TS loader). */
export function workerEntry(): string {
  const js = join(__dirname, 'sandbox.worker.js');
  if (__filename.endsWith('.js') && existsSync(js)) return js;
  return join(__dirname, 'sandbox.worker.ts');
}

export function spawnSandboxWorker(options: SpawnOptions): Worker {
  const entry = options.workerFile ?? workerEntry();
  const common: WorkerOptions = { resourceLimits: options.resourceLimits, stdout: false, stderr: false };
  if (entry.endsWith('.ts')) {
    return new Worker(TS_BOOTSTRAP, { ...common, eval: true, workerData: { ...options.workerData, __sandboxEntry: entry } });
  }
  return new Worker(entry, { ...common, workerData: options.workerData });
}
