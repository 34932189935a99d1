import type { DiscrepancyType } from '../classification/classifier';

/**
 * What remediation does by default for each type (docs/reconciliation.md, "Default actions"), with its
 * direction; `null`: an operator decides (a collision has no single owner). The guard rail counts
 * `delete` and `inactivate_identity`. Remediation itself is not built yet: reports show these as what a
 * run would do.
 */
export const DEFAULT_ACTIONS: Record<DiscrepancyType, { action: string; direction: string } | null> = {
  missing: { action: 'create', direction: 'xavyo_to_target' },
  orphan: { action: 'delete', direction: 'xavyo_to_target' },
  mismatch: { action: 'update', direction: 'xavyo_to_target' },
  collision: null,
  unlinked: { action: 'link', direction: 'target_to_xavyo' },
  deleted: { action: 'inactivate_identity', direction: 'target_to_xavyo' },
};
