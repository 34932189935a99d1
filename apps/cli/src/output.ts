/**
 * What a command prints: for a person by default, one JSON document with `--json`. Exit codes say how
 * it went (docs/cli.md): scripts test on them.
 */
export const ExitCode = {
  Ok: 0,
  /** The thing asked about failed: invalid source, a failed dry run or run, a push that was refused. */
  Failed: 1,
  /** Wrong usage: unknown command or option, a missing argument, an unreadable file. */
  Usage: 2,
  /** Not logged in, or the token is refused (401) or lacks a permission (403). */
  Auth: 3,
  /** No such script, execution or dead letter (404). */
  NotFound: 4,
  /** The service refused the state change (409), e.g. cancelling a finished run. */
  Conflict: 5,
  /** The service could not be reached or answered 5xx. */
  Unavailable: 6,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class UsageError extends Error {}

export interface Output {
  json: boolean;
  /** A line for a person (nothing with --json). */
  line(text: string): void;
  /** The command's result: printed as JSON with --json, else by `human`. */
  result(value: unknown, human: () => void): void;
  error(text: string): void;
}

export function createOutput(json: boolean, stdout: NodeJS.WritableStream = process.stdout, stderr: NodeJS.WritableStream = process.stderr): Output {
  return {
    json,
    line: (text) => {
      if (!json) stdout.write(`${text}\n`);
    },
    result: (value, human) => {
      if (json) stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      else human();
    },
    error: (text) => stderr.write(`provisio: ${text}\n`),
  };
}

const COLOURS = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number) => (text: string) => (COLOURS ? `\u001b[${code}m${text}\u001b[0m` : text);
export const green = paint(32);
export const red = paint(31);
export const yellow = paint(33);
export const dim = paint(2);

export function statusColour(status: string): string {
  if (status === 'completed') return green(status);
  if (['failed', 'timeout'].includes(status)) return red(status);
  if (['cancelled', 'skipped'].includes(status)) return yellow(status);
  return status;
}

/** Rows as aligned columns. */
export function table(rows: string[][]): string {
  const plain = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => plain(r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat(widths[i] - plain(cell).length))).join('  ')).join('\n');
}
