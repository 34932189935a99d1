export * from './mappable-identity';
export * from './attribute-mapping';
export * from './provisioning-policy';
export * from './mapping-script-output';
