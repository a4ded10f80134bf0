/**
 * The BasicAgent's crontab, managed section only (docs/lifecycle.md "Desired state — on the
 * host"): the BootAgent rewrites the section between the markers (agent-core crontab-section,
 * the one module that knows them) with an atomic write that keeps the file's mode, then sends
 * the running BasicAgent SIGHUP, which re-reads its crontab. The host's own lines are never
 * changed. A BasicAgent that is not running reads the file when it starts; one that started
 * less than SIGHUP_AFTER_UPTIME_SEC ago is not signalled (its handler may not be installed yet,
 * and SIGHUP's default action ends a process): it sees the change within its own
 * `crontabCheckSec` (the file's size, mtime and inode are looked at).
 */
import { readFile as readFileCb, stat as statCb } from 'node:fs';
import { promisify } from 'node:util';
import { type ManagedTask, replaceSection, type SectionDrift, sectionDrift, writeTextAtomic } from '@aspire/agent-core';
import type { AgentReport } from '@aspire/protocol';

// node:fs's callback API, not node:fs/promises: the drift is checked on every status reply, and
// fs/promises (with the readline and watch modules it loads) is ~1 MB an idle boot need not hold
// (docs/boot-agent.md "Idle memory").
const readFile = promisify(readFileCb);
const stat = promisify(statCb);

/** A sub-agent up this long has long installed its SIGHUP handler. */
export const SIGHUP_AFTER_UPTIME_SEC = 10;

export interface CrontabTarget {
  /** The BasicAgent's crontab (boot.json `policy.crontab`, default /etc/basicagent/crontab). */
  path: string;
  /** The sub-agent told to re-read it (SIGHUP). */
  agent: string;
}

/** The file as it is (undefined: absent) and how its section differs from the tasks. */
export async function crontabDrift(
  path: string,
  tasks: readonly ManagedTask[],
): Promise<{ text: string | undefined; drift: SectionDrift[] }> {
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // No file and nothing wanted: nothing to write (the BasicAgent's package brings the file).
  if (text === undefined) return { text, drift: tasks.length > 0 ? sectionDrift('', tasks) : [] };
  return { text, drift: sectionDrift(text, tasks) };
}

/** Write the section (whole file, atomically, same mode; a new file is 0644) and tell the agent. */
export async function writeCrontab(
  target: CrontabTarget,
  text: string | undefined,
  tasks: readonly ManagedTask[],
  reports: readonly AgentReport[],
): Promise<{ signalled: boolean }> {
  let mode = 0o644;
  try {
    mode = (await stat(target.path)).mode & 0o7777;
  } catch {
    /* a new file */
  }
  await writeTextAtomic(target.path, replaceSection(text ?? '', tasks), mode);
  const r = reports.find((x) => x.name === target.agent && x.status === 'running');
  if (r?.pid === undefined || r.uptime < SIGHUP_AFTER_UPTIME_SEC) return { signalled: false };
  try {
    process.kill(r.pid, 'SIGHUP');
    return { signalled: true };
  } catch {
    return { signalled: false };
  }
}
