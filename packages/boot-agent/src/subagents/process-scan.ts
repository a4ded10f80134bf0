/**
 * Find a sub-agent's live process without its recorded pid: the last resort of adoption when
 * state.json could not be written after a start (full disk) and the BootAgent died before it
 * could (kill -9, crash). Every process the supervisor spawns gets ASPIRE_AGENT_HOME=<its agent
 * dir> in its environment and leads its own process group (spawned detached). So the agent is
 * the process group leader whose /proc/PID/environ holds that exact entry: its children share
 * the environment but not the leadership, and `check`/`stop`/`precheck` commands are spawned
 * without the entry. The agent dir is under the BootAgent's state dir, so two BootAgents (or
 * two agents of the same name under different state dirs) never find each other's processes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { processStartTicks } from '@aspire/agent-core';

/** The environment variable that names the agent dir of a spawned sub-agent. */
export const AGENT_HOME_ENV = 'ASPIRE_AGENT_HOME';

export interface FoundProcess {
  pid: number;
  startTicks: string;
}

/** Process group leaders whose environment holds `entry` exactly (NAME=value), oldest first. */
export function findGroupLeadersWithEnv(entry: string, procRoot = '/proc'): FoundProcess[] {
  const needle = Buffer.from(`${entry}\0`);
  const found: FoundProcess[] = [];
  let pids: string[];
  try {
    pids = readdirSync(procRoot).filter((p) => /^\d+$/.test(p));
  } catch {
    return [];
  }
  for (const p of pids) {
    const pid = Number(p);
    if (pid === process.pid) continue;
    try {
      const stat = readFileSync(`${procRoot}/${p}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // rest[0] is field 3 (state), rest[2] field 5 (process group).
      if (rest[0] === 'Z' || rest[0] === 'X' || Number(rest[2]) !== pid) continue;
      const env = readFileSync(`${procRoot}/${p}/environ`);
      if (!(env.subarray(0, needle.length).equals(needle) || env.includes(Buffer.concat([Buffer.from([0]), needle]))))
        continue;
      const startTicks = processStartTicks(pid);
      if (startTicks) found.push({ pid, startTicks });
    } catch {
      /* gone meanwhile, or not readable */
    }
  }
  return found.sort((a, b) => Number(a.startTicks) - Number(b.startTicks));
}
