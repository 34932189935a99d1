/**
 * @provisio/mapping-scripts: a connector's mapping script (`connectors.mapping_script_id`), run after its
 * declarative rules through the shared script execution, one identity at a time (`apply`: the provisioning
 * queue's preview and operations) or many in one sandbox run (`applyMany`: the reconciler's expected side).
 *
 * A lib of its own rather than part of @provisio/script-execution: it needs @provisio/connectors at run
 * time (the mapping types and `checkScriptedAttributes`/`checkScriptedBatch`, which judge a script's
 * answer), and the execution worker and the registry, which load @provisio/script-execution, have no use
 * for the connectors' LDAP, SQL and SCIM clients. Nor in @provisio/connectors: a connector knows nothing of
 * the sandbox.
 */
export { MappingScriptsModule } from './mapping-scripts.module';
export { MAPPING_TRIGGER, MappingScriptFailed, MappingScriptRunner, type MappingConnector, type MappingInput, type MappingRunOptions, type MappingScriptRun } from './mapping-script-runner';
