// Compiles a script without running it: syntax errors with line and column, and warnings about the
// shape the sandbox expects (a default-exported function, no imports). QuickJS decides what is valid
// (it is the engine that will run the script); acorn supplies what QuickJS does not report — the
// column — and the syntax tree for the shape checks.
import { Parser, type Node as AcornNode } from 'acorn';
import type { QuickJSWASMModule } from 'quickjs-emscripten';
import { discardQuickJs, loadQuickJs } from './engine/quickjs-module';
import { SCRIPT_INTRINSICS } from './engine/snapshot-engine';
import { SCRIPT_FILENAME } from './host/host-api';
import type { ValidationError, ValidationResult, ValidationWarning } from './types';

export const MAX_SOURCE_BYTES = 1024 * 1024;
const VALIDATION_MEMORY_BYTES = 32 * 1024 * 1024;
const VALIDATION_STACK_BYTES = 256 * 1024;
const VALIDATION_TIME_MS = 2000;

interface LocatedSyntaxError extends SyntaxError {
  loc?: { line: number; column: number };
}

type Loose = AcornNode & Record<string, unknown>;

function firstColumn(source: string, line: number): number {
  const text = source.split('\n')[line - 1] ?? '';
  const match = /\S/.exec(text);
  return match ? match.index + 1 : 1;
}

function isFunctionNode(node: Loose | null | undefined): boolean {
  return !!node && (node.type === 'ArrowFunctionExpression' || node.type === 'FunctionExpression' || node.type === 'FunctionDeclaration');
}

/** Finds what the module exports as default and whether it is (statically) a function. */
function checkShape(program: Loose, errors: ValidationError[], warnings: ValidationWarning[]): void {
  const body = program.body as Loose[];
  const functionsByName = new Map<string, boolean>();
  for (const stmt of body) {
    if (stmt.type === 'FunctionDeclaration' && stmt.id) functionsByName.set((stmt.id as Loose).name as string, true);
    const decl = stmt.type === 'ExportNamedDeclaration' ? (stmt.declaration as Loose | null) : stmt;
    if (decl?.type === 'FunctionDeclaration' && decl.id) functionsByName.set((decl.id as Loose).name as string, true);
    if (decl?.type === 'VariableDeclaration') {
      for (const d of decl.declarations as Loose[]) {
        const id = d.id as Loose;
        if (id.type === 'Identifier') functionsByName.set(id.name as string, isFunctionNode(d.init as Loose | null));
      }
    }
  }
  let defaultExport: { node: Loose; isFunction: boolean } | undefined;
  for (const stmt of body) {
    const at = { line: stmt.loc!.start.line, column: stmt.loc!.start.column + 1 };
    if (stmt.type === 'ImportDeclaration' || stmt.type === 'ExportAllDeclaration' || (stmt.type === 'ExportNamedDeclaration' && stmt.source)) {
      errors.push({ ...at, message: 'scripts cannot import modules: everything a script may use is on ctx, console, fetch, crypto and helpers' });
    }
    if (stmt.type === 'ExportDefaultDeclaration') {
      const decl = stmt.declaration as Loose;
      const isFunction = isFunctionNode(decl) || (decl.type === 'Identifier' && functionsByName.get(decl.name as string) === true);
      defaultExport = { node: stmt, isFunction };
    }
    if (stmt.type === 'ExportNamedDeclaration' && !stmt.source) {
      for (const spec of (stmt.specifiers as Loose[]) ?? []) {
        const exported = spec.exported as Loose;
        if ((exported.name ?? exported.value) === 'default') {
          defaultExport = { node: stmt, isFunction: functionsByName.get((spec.local as Loose).name as string) === true };
        }
      }
    }
  }
  if (!defaultExport) {
    warnings.push({ message: 'the script has no default export: write `export default async (ctx) => { ... }`' });
  } else if (!defaultExport.isFunction) {
    warnings.push({
      line: defaultExport.node.loc!.start.line,
      column: defaultExport.node.loc!.start.column + 1,
      message: 'the default export is not (statically) a function: write `export default async (ctx) => { ... }`',
    });
  }
}

function acornCheck(source: string): { error?: ValidationError; program?: Loose } {
  try {
    const program = Parser.parse(source, { ecmaVersion: 'latest', sourceType: 'module', locations: true }) as unknown as Loose;
    return { program };
  } catch (error) {
    if (error instanceof RangeError) return { error: { line: 1, column: 1, message: 'the source nests too deeply to compile' } };
    const e = error as LocatedSyntaxError;
    if (e.loc) return { error: { line: e.loc.line, column: e.loc.column + 1, message: e.message.replace(/\s*\(\d+:\d+\)$/, '') } };
    return { error: { line: 1, column: 1, message: String((error as Error).message ?? error) } };
  }
}

/** QuickJS's verdict: null when it compiles, else the error message and line. */
function quickjsCompile(qjs: QuickJSWASMModule, source: string): { message: string; line: number } | null {
  const rt = qjs.newRuntime();
  try {
    rt.setMemoryLimit(VALIDATION_MEMORY_BYTES);
    rt.setMaxStackSize(VALIDATION_STACK_BYTES);
    const deadline = Date.now() + VALIDATION_TIME_MS;
    rt.setInterruptHandler(() => Date.now() > deadline);
    // The same built-ins as a run: compiling an async function without the Promise intrinsic faults the engine.
    const vm = rt.newContext({ intrinsics: SCRIPT_INTRINSICS });
    try {
      const result = vm.evalCode(source, SCRIPT_FILENAME, { type: 'module', compileOnly: true });
      if (!result.error) {
        result.value.dispose();
        return null;
      }
      const dumped = vm.dump(result.error) as { name?: string; message?: string; lineNumber?: number; stack?: string };
      result.error.dispose();
      const line = typeof dumped?.lineNumber === 'number' ? dumped.lineNumber : Number(/:(\d+)/.exec(dumped?.stack ?? '')?.[1] ?? 1);
      return { message: `${dumped?.name ?? 'SyntaxError'}: ${dumped?.message ?? String(dumped)}`, line };
    } finally {
      vm.dispose();
    }
  } finally {
    rt.dispose();
  }
}

/** Validates with an already-loaded QuickJS module (synchronous; used by the workers). */
export function validateWith(qjs: QuickJSWASMModule, source: unknown): ValidationResult & { enginePoisoned?: boolean } {
  const errors: ValidationError[] = [];
  const warnings: ValidationWarning[] = [];
  if (typeof source !== 'string') return { valid: false, errors: [{ line: 1, column: 1, message: 'source must be a string' }], warnings };
  if (Buffer.byteLength(source) > MAX_SOURCE_BYTES) {
    return { valid: false, errors: [{ line: 1, column: 1, message: `source is larger than ${MAX_SOURCE_BYTES} bytes` }], warnings };
  }
  const parsed = acornCheck(source);
  if (parsed.error?.message === 'the source nests too deeply to compile') return { valid: false, errors: [parsed.error], warnings };

  let compiled: { message: string; line: number } | null;
  try {
    compiled = quickjsCompile(qjs, source);
  } catch (error) {
    // A host stack overflow inside the WASM parser: the module is unusable from here on.
    return {
      valid: false,
      errors: [{ line: 1, column: 1, message: error instanceof RangeError ? 'the source nests too deeply to compile' : `compiler fault: ${(error as Error).message}` }],
      warnings,
      enginePoisoned: true,
    };
  }
  if (compiled && parsed.program && /could not load module/.test(compiled.message)) {
    checkShape(parsed.program, errors, warnings);
    if (errors.length) return { valid: false, errors, warnings };
  }
  if (compiled) {
    const column = parsed.error && parsed.error.line === compiled.line ? parsed.error.column : firstColumn(source, compiled.line);
    errors.push({ line: compiled.line, column, message: compiled.message });
    return { valid: false, errors, warnings };
  }
  if (parsed.program) checkShape(parsed.program, errors, warnings);
  else if (parsed.error) warnings.push({ ...parsed.error, message: `could not analyse the script's exports: ${parsed.error.message}` });
  return { valid: errors.length === 0, errors, warnings };
}

/** Validates a script in the calling thread (compile only; the script is never run). */
export async function validate(source: unknown): Promise<ValidationResult> {
  const qjs = await loadQuickJs();
  const { enginePoisoned, ...result } = validateWith(qjs, source);
  if (enginePoisoned) discardQuickJs(qjs);
  return result;
}
