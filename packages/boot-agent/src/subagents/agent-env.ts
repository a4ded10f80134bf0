/** The environment and ids a sub-agent's processes (start, stop, check, precheck) run with. */
import type { Entry } from './loop-context.ts';
import { resolveIds } from './users.ts';

/** PATH for sub-agents: the BootAgent's own environment (maybe holding secrets) is not passed on. */
const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function agentEnv(e: Entry): Record<string, string> {
  return {
    PATH: BASE_PATH,
    ASPIRE_AGENT_NAME: e.state.name,
    ASPIRE_AGENT_VERSION: e.state.current,
    ...e.spec.env,
    ...e.state.envs,
  };
}

export function agentIds(e: Entry): { uid?: number; gid?: number } {
  return resolveIds(e.spec.user, e.spec.group);
}
