/**
 * Permissions a JWT grants (claim `permissions`, an array, or `scope`, space-separated). The script and
 * execution names follow seed 004; provisioning and reconciliation follow the same `resource:verb` shape.
 * `<resource>:manage` implies every other verb on that resource.
 */
export const Permission = {
  ScriptRead: 'script:read',
  ScriptWrite: 'script:write',
  ScriptDelete: 'script:delete',
  ScriptExecute: 'script:execute',
  ScriptManage: 'script:manage',
  ScriptExecutionRead: 'script_execution:read',
  ScriptExecutionWrite: 'script_execution:write',
  ScriptExecutionManage: 'script_execution:manage',
  ScriptScheduleRead: 'script_schedule:read',
  ScriptScheduleWrite: 'script_schedule:write',
  ScriptScheduleDelete: 'script_schedule:delete',
  ScriptScheduleManage: 'script_schedule:manage',
  TemplateRead: 'template:read',
  TemplateWrite: 'template:write',
  TemplateManage: 'template:manage',
  BindingRead: 'binding:read',
  BindingWrite: 'binding:write',
  BindingManage: 'binding:manage',
  AuditRead: 'audit:read',
  ConnectorRead: 'connector:read',
  ConnectorWrite: 'connector:write',
  ConnectorManage: 'connector:manage',
  IdentityRead: 'identity:read',
  IdentityWrite: 'identity:write',
  IdentityManage: 'identity:manage',
  ProvisioningRead: 'provisioning:read',
  ProvisioningWrite: 'provisioning:write',
  ProvisioningManage: 'provisioning:manage',
  ReconciliationRead: 'reconciliation:read',
  ReconciliationWrite: 'reconciliation:write',
  ReconciliationManage: 'reconciliation:manage',
  /** An administrator's settings of a tenant (the caps of the limits its scripts may set). */
  TenantManage: 'tenant:manage',
} as const;
export type PermissionName = (typeof Permission)[keyof typeof Permission];

/** Whether `granted` satisfies `required`, honouring `<resource>:manage` and the `*` super-permission. */
export function hasPermission(granted: ReadonlySet<string>, required: string): boolean {
  if (granted.has(required) || granted.has('*')) return true;
  const resource = required.slice(0, required.indexOf(':'));
  return granted.has(`${resource}:manage`);
}

/**
 * The first of a script's `required_permissions` (seed 004) that `granted` lacks, or undefined when all
 * are held. Every place that starts a script checks it (HTTP triggers, dry runs, schedule triggers,
 * run-now endpoints) and answers 403 naming the permission.
 */
export function missingPermission(granted: ReadonlySet<string>, required: readonly string[] | null | undefined): string | undefined {
  return (required ?? []).find((permission) => !hasPermission(granted, permission));
}
