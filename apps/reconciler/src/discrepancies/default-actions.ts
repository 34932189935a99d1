import type { RemediationAction, RemediationDirection } from '@provisio/persistence';
import type { DiscrepancyType } from '../classification/classifier';

/**
 * What remediation does by default for each type (docs/reconciliation.md, "Default actions"), with its
 * direction; `null`: an operator decides (a collision has no single owner). A run that is not a dry run
 * applies these after the guard rail (which counts `delete` and `inactivate_identity`); an operator's
 * remediation of one discrepancy, or in bulk, applies them unless it names another action.
 */
export const DEFAULT_ACTIONS: Record<DiscrepancyType, { action: RemediationAction; direction: RemediationDirection } | null> = {
  missing: { action: 'create', direction: 'xavyo_to_target' },
  orphan: { action: 'delete', direction: 'xavyo_to_target' },
  mismatch: { action: 'update', direction: 'xavyo_to_target' },
  collision: null,
  unlinked: { action: 'link', direction: 'target_to_xavyo' },
  deleted: { action: 'inactivate_identity', direction: 'target_to_xavyo' },
};
