/**
 * Run one shell command for sync.bash or a periodic task: as the asked user and group, in its
 * own process group, output capped outside the agent (output-capper.ts), killed with its whole
 * group on timeout, cancel or shutdown (kill-escalation.ts).
 * Not execa: its timeout and cancel kill the child's pid, not its process group with TERM-then-KILL
 * escalation and a drain of the group's late writers, and it reads all output into the agent where
 * this module has a separate capper process count what is dropped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Clock } from '@aspire/agent-core';
import { ErrorCode, OUTPUT_CAP_BYTES } from '@aspire/protocol';
import { lookupGroup, lookupUser } from '../host/accounts.ts';
import { startOutputCapper, type OutputCapper } from './output-capper.ts';
import { DEFAULT_KILL_ESCALATION, escalateKill, signalGroup, type KillEscalationOptions } from './kill-escalation.ts';

export interface RunCommandOptions {
  /** Shell command line: the feature is "run this shell command", so it goes to bash -c. */
  cmd: string;
  timeoutMs: number;
  user?: string;
  group?: string;
  capBytes?: number;
  kill?: KillEscalationOptions;
  shell?: string;
  /** Extra environment (crontab `NAME=value` lines); set over the base environment. */
  env?: Record<string, string>;
  /** Aborting (agent shutdown) kills the command the same way a timeout does. */
  signal?: AbortSignal;
}

export type CommandOutcome =
  | {
      kind: 'exited';
      exitCode: number;
      output: string;
      truncated: boolean;
      droppedBytes: number;
      durationMs: number;
    }
  | {
      kind: 'timeout' | 'killed' | 'aborted';
      signal?: string;
      output: string;
      truncated: boolean;
      droppedBytes: number;
      durationMs: number;
    }
  | { kind: 'refused'; code: number; message: string };

/** After the leader exits, how long to wait for children of its group still holding the output pipe. */
const DRAIN_MS = 200;
/**
 * With the group gone, how long the capper may take to count what is left in the pipe (at most
 * a pipe buffer, as the writer blocks on a full pipe). Longer only when a process that left the
 * group (setsid) still holds the pipe; the reply then comes this much later, without the count.
 */
const CAPPER_SETTLE_MS = 1000;

const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** True while any process of the group lives. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** util-linux setpriv (EL8+, Debian), found once. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv'].find((p) => existsSync(p));

/**
 * Run one shell command in its own process group as the requested user/group, with output
 * capped and a timeout enforced by killing the whole group (see kill-escalation.ts).
 * Never throws: every way it can go wrong is an outcome.
 */
export async function runCommand(opts: RunCommandOptions, clock: Clock): Promise<CommandOutcome> {
  let uid: number | undefined;
  let gid: number | undefined;
  let home = '/';
  let userName: string | undefined;
  if (opts.user !== undefined) {
    const u = lookupUser(opts.user);
    if (!u) return { kind: 'refused', code: ErrorCode.EXEC_UNKNOWN_USER, message: `Unknown user: ${opts.user}` };
    uid = u.uid;
    gid = u.gid;
    home = u.home;
    userName = u.name;
  }
  if (opts.group !== undefined) {
    const g = lookupGroup(opts.group);
    if (!g) return { kind: 'refused', code: ErrorCode.EXEC_UNKNOWN_GROUP, message: `Unknown group: ${opts.group}` };
    gid = g.gid;
  }
  // Only switch identity when it differs from ours: a non-root agent can still run its own
  // commands, and asking a non-root agent for another user is a clear spawn error.
  const myUid = process.getuid?.() ?? 0;
  const myGid = process.getgid?.() ?? 0;
  const env: NodeJS.ProcessEnv = {
    PATH: SAFE_PATH,
    LANG: 'C',
    HOME: home,
    SHELL: opts.shell ?? '/bin/bash',
  };
  if (userName) {
    env.USER = userName;
    env.LOGNAME = userName;
  }
  Object.assign(env, opts.env);

  const started = clock.monotonic();
  let child: ChildProcess;
  let output: OutputCapper | undefined;
  try {
    const shell = opts.shell ?? '/bin/bash';
    const switchUser = uid !== undefined && uid !== myUid;
    if (switchUser && myUid !== 0) {
      return {
        kind: 'refused',
        code: ErrorCode.EXEC_ERROR,
        message: `the agent does not run as root and cannot run commands as ${opts.user}`,
      };
    }
    const switchGroup = gid !== undefined && (gid !== myGid || switchUser);
    // As another user, the command gets that user's supplementary groups too (as after a login),
    // through setpriv --init-groups, which then execs the shell: same pid, same process group.
    // Without setpriv, spawn's uid/gid (libuv drops all supplementary groups).
    const viaSetpriv = switchUser && userName !== undefined && SETPRIV !== undefined;
    const [file, args] = viaSetpriv
      ? [SETPRIV!, [`--reuid=${uid}`, `--regid=${gid}`, '--init-groups', '--', shell, '-c', opts.cmd]]
      : [shell, ['-c', opts.cmd]];
    output = startOutputCapper(opts.capBytes ?? OUTPUT_CAP_BYTES);
    child = spawn(file, args, {
      detached: true,
      // stdout and stderr into one pipe to the capper, interleaved as written.
      stdio: ['ignore', output.input, output.input],
      cwd: existsSync(home) ? home : '/',
      env,
      ...(!viaSetpriv && switchUser ? { uid } : {}),
      ...(!viaSetpriv && switchGroup ? { gid } : {}),
    });
  } catch (err) {
    output?.stop();
    return { kind: 'refused', code: ErrorCode.EXEC_ERROR, message: `spawn failed: ${(err as Error).message}` };
  } finally {
    output?.handedOver();
  }
  const capper = output;

  return new Promise<CommandOutcome>((resolve) => {
    let settled = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let reason: 'timeout' | 'aborted' | undefined;
    let escalation: ReturnType<typeof escalateKill> | undefined;
    let drainTimer: { cancel(): void } | undefined;

    const finish = (): void => {
      if (settled || !exit) return;
      settled = true;
      timeoutTimer.cancel();
      drainTimer?.cancel();
      opts.signal?.removeEventListener('abort', onAbort);
      capper.stop();
      const durationMs = Math.round(clock.monotonic() - started);
      const common = { ...capper.result(), durationMs };
      if (reason) {
        resolve({ kind: reason, ...(exit.signal ? { signal: exit.signal } : {}), ...common });
      } else if (exit.code !== null) {
        resolve({ kind: 'exited', exitCode: exit.code, ...common });
      } else {
        resolve({ kind: 'killed', signal: exit.signal ?? 'unknown', ...common });
      }
    };

    const afterGroup = (): void => {
      if (capper.finished) return finish();
      // A child of the group still alive may hold the pipe open: do not wait for it. With the
      // group gone, the capper is only counting what is left in the pipe.
      drainTimer ??= clock.setTimeout(finish, groupAlive(child.pid!) ? DRAIN_MS : CAPPER_SETTLE_MS);
    };

    const maybeFinish = (): void => {
      if (!exit || settled) return;
      // Killed: answer once the whole group is gone, so nothing outlives the reply.
      if (escalation) void escalation.gone.then(afterGroup);
      else afterGroup();
    };

    const kill = (why: 'timeout' | 'aborted'): void => {
      if (reason || settled || child.pid === undefined) return;
      reason = why;
      escalation = escalateKill(child.pid, clock, opts.kill ?? DEFAULT_KILL_ESCALATION, signalGroup);
      maybeFinish();
    };
    const onAbort = () => kill('aborted');
    const timeoutTimer = clock.setTimeout(() => kill('timeout'), opts.timeoutMs);
    if (opts.signal?.aborted) kill('aborted');
    else opts.signal?.addEventListener('abort', onAbort, { once: true });

    void capper.done.then(() => {
      if (drainTimer) finish();
    });
    child.on('error', (err) => {
      if (settled) return;
      settled = true;
      timeoutTimer.cancel();
      capper.stop();
      opts.signal?.removeEventListener('abort', onAbort);
      resolve({ kind: 'refused', code: ErrorCode.EXEC_ERROR, message: `spawn failed: ${err.message}` });
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      maybeFinish();
    });
  });
}
