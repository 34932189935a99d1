/** Test helpers (import from `@provisio/persistence/testing`, never from production code). */
export * from './isolated-schema';
export * from './fixtures';
