export * from './connector';
export * from './connector-errors';
export * from './connector-types';
export * from './governor';
export * from './mapping';
// Each connector type registers its schemas and factory (connector-types.ts) when imported here.
export * from './scim';
export * from './ldap';
export * from './sql';
