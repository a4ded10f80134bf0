/**
 * A tree or policy request refused with a stable reason word (docs/lifecycle.md "Refusals"):
 * the answer is the envelope of `status` (400, 404 or 409) with the reason beside the cause, so
 * a client tells a cycle from a second parent without parsing the message.
 */
import type { ApiStatusName } from '@aspire/protocol';

export type RefusalReason =
  | 'tree_kind'
  | 'tree_parent_required'
  | 'tree_parent_kind'
  | 'tree_second_parent'
  | 'tree_cycle'
  | 'tree_name_taken'
  | 'tree_not_empty'
  | 'tree_not_found'
  | 'tree_tags'
  | 'host_unknown'
  | 'host_second_component'
  | 'host_not_component'
  | 'policy_invalid'
  | 'policy_duplicate_name'
  | 'policy_bad_crontab'
  | 'policy_package_missing';

export class PolicyRefusal extends Error {
  constructor(
    readonly status: Extract<ApiStatusName, 'BAD_REQUEST' | 'NOT_FOUND' | 'CONFLICT'>,
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (reason: RefusalReason, message: string) => new PolicyRefusal('BAD_REQUEST', reason, message);
