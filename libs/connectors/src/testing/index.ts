// Test support for connectors (imported by connectors' *.int-spec.ts as @provisio/connectors/testing).
export * from './connector-contract';
