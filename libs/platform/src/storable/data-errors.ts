import { toStorableText } from './storable-text';

/**
 * Which database errors are about the data rather than the database: PostgreSQL SQLSTATE class 22
 * (data exception: a value too long, an invalid escape, a bad number) and class 23 (integrity
 * constraint violation), and 54000 (a value too large for an index row). Writing the same data again
 * fails the same way, so the write is permanent: consumers dead-letter the event, runners record the
 * run as failed. Anything else (connection lost, serialization failure, a lock timeout) may pass.
 */
export function sqlStateOf(error: unknown): string | undefined {
  if (!error || typeof error !== 'object') return undefined;
  // TypeORM's QueryFailedError copies the driver error's fields; `driverError` is the pg error itself.
  const code = (error as { code?: unknown }).code ?? (error as { driverError?: { code?: unknown } }).driverError?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function isDataError(error: unknown): boolean {
  const state = sqlStateOf(error);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23') || state === '54000');
}

/** A short, storable description of a data error for a record or a header (`22P05: unsupported ...`). */
export function describeDataError(error: unknown, maxChars = 1_000): string {
  const state = sqlStateOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const text = toStorableText(state ? `${state}: ${message}` : message);
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text;
}
