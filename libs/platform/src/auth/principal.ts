/** Who is calling: resolved from the bearer token by the auth guard, scoped to one tenant. */
export interface Principal {
  /** The token's `sub`: the actor id recorded as `created_by`, `executed_by`, `actor_id`. */
  subject: string;
  tenantId: string;
  permissions: ReadonlySet<string>;
}
