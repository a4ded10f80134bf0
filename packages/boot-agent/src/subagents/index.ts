export { createSubAgentManager, type ManagerExtras } from './manager.ts';
export { decide, type Decision, type ExitInfo, type History, type PolicyConfig } from './restart-policy.ts';
export { parseRunSpec, parseLimits, splitCommand, RUN_SPEC_FILE, type RunSpec } from './run-spec.ts';
