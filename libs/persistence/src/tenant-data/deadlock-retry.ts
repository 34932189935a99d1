/**
 * PostgreSQL's `deadlock_detected` (40P01) and `serialization_failure` (40001): the server rolled the
 * whole transaction back, so running it again is safe when everything it does is in the database (its
 * events go through the outbox, in the same transaction).
 */
const RETRYABLE_STATES = new Set(['40P01', '40001']);

function sqlStateOf(error: unknown): string | undefined {
  const e = error as { code?: unknown; driverError?: { code?: unknown } };
  const code = e?.code ?? e?.driverError?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Runs `transaction` (a whole `db.write`/`db.transaction`) again, up to `attempts` times in all, when the
 * database chose it as the victim of a deadlock: an API write that locks an identity can meet the queue's
 * workers locking the same identity's operations in the other order.
 */
export async function retryOnDeadlock<T>(transaction: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (error) {
      if (attempt >= attempts || !RETRYABLE_STATES.has(sqlStateOf(error) ?? '')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * attempt + Math.floor(Math.random() * 40)));
    }
  }
}
