/**
 * boot.json `policy`: either the path of the host policy file (a string, as before) or an
 * object that also sets the desired-state convergence (docs/lifecycle.md "Desired state — on
 * the host"):
 *   "policy": {"file": "/etc/bootagent/policy.json", "fullCheckSec": 86400,
 *              "crontab": "/etc/basicagent/crontab", "crontabAgent": "BasicAgent"}
 * One key for both because both are "policy": what the host allows (the file) and what the
 * server wants it to run (pulled and converged).
 */
import { isAbsolute } from 'node:path';
import { BOOT_POLICY_DEFAULT_PATH, ConfigChecker, checkSchema, schemaBounds, schemaKeys } from '@aspire/agent-core';
import { POLICY_OBJECT_SCHEMA } from './boot-config-schema.ts';

export interface DesiredStateConfig {
  /** Pull and check the full policy this often even when the reply's hash matches. Default 86400 s. */
  fullCheckSec: number;
  /** The BasicAgent crontab whose managed section the policy's periodic tasks replace. */
  crontab: string;
  /** The sub-agent told (SIGHUP) to re-read that crontab. */
  crontabAgent: string;
}

/** The object's keys are declared in boot-config-schema.ts (POLICY_OBJECT_SCHEMA). */
export const POLICY_BOUNDS = schemaBounds(POLICY_OBJECT_SCHEMA);
export const DEFAULT_BASIC_CRONTAB = POLICY_OBJECT_SCHEMA.crontab.default;

export function checkPolicyConfig(
  raw: unknown,
  parent: ConfigChecker,
): { file: string; desiredState: DesiredStateConfig } {
  const defaults: DesiredStateConfig = {
    fullCheckSec: POLICY_BOUNDS.fullCheckSec.default,
    crontab: DEFAULT_BASIC_CRONTAB,
    crontabAgent: POLICY_OBJECT_SCHEMA.crontabAgent.default,
  };
  const absolute = (v: string) => (isAbsolute(v) ? undefined : 'must be an absolute path');
  if (raw === undefined || typeof raw === 'string') {
    const file = parent.string('policy', BOOT_POLICY_DEFAULT_PATH, absolute);
    return { file, desiredState: defaults };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    parent.problems.push(
      'policy: must be the host policy file path or an object {file, fullCheckSec, crontab, crontabAgent}',
    );
    return { file: BOOT_POLICY_DEFAULT_PATH, desiredState: defaults };
  }
  const c = new ConfigChecker(raw as Record<string, unknown>, schemaKeys(POLICY_OBJECT_SCHEMA));
  const { file, ...desiredState } = checkSchema(c, POLICY_OBJECT_SCHEMA);
  parent.problems.push(...c.problems.map((p) => `policy.${p}`));
  parent.notes.push(...c.notes.map((p) => `policy.${p}`));
  return { file, desiredState };
}
