export * from './connector';
export * from './connector-errors';
