import { QueryFailedError } from 'typeorm';
import { ConflictError } from '../errors/domain-errors';

/** What a unique constraint means to a caller: the field it guards and how to say so. */
export type UniqueConstraints = Record<string, { field: string; message: string }>;

/**
 * Turns a unique violation of a known constraint into a 409 naming the field; rethrows anything else.
 * Call it from inside a transaction's `catch`: the transaction still rolls back, nothing is half-written.
 */
export function translateUniqueViolation(error: unknown, constraints: UniqueConstraints): never {
  if (error instanceof QueryFailedError) {
    const driverError = error.driverError as { code?: string; constraint?: string };
    const known = driverError.code === '23505' && driverError.constraint ? constraints[driverError.constraint] : undefined;
    if (known) throw new ConflictError(known.message, known.field);
  }
  throw error;
}

/** Runs `work`, turning a unique violation of a known constraint into a 409 naming the field. */
export async function guardUniques<T>(constraints: UniqueConstraints, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    translateUniqueViolation(error, constraints);
  }
}
