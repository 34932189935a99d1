export * from './connector';
export * from './connector-errors';
export * from './connector-types';
export * from './governor';
export * from './mapping';
