/** The hash of an effective desired-state policy (docs/lifecycle.md "Desired state"). */
import { createHash } from 'node:crypto';
import type { EffectivePolicy } from './policy-wire.ts';
import { canonicalJson } from './signing.ts';

/** sha256 hex of the canonical JSON of an effective policy (entries sorted by name). */
export function policyHash(p: EffectivePolicy): string {
  return createHash('sha256').update(canonicalJson(p), 'utf8').digest('hex');
}

/**
 * The hash a host with no policy at all gets in every status reply. Pure: a bundle that does not
 * use it (the BootAgent's) drops the call, and with it node:crypto at start.
 */
export const EMPTY_POLICY_HASH = /* @__PURE__ */ policyHash({ subagents: [], periodic: [] });
