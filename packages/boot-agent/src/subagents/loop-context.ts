/**
 * What the supervisor's single writer shares with the steps split out of it (start sequence,
 * exit handling, health checks, health windows): the per-agent entry it owns and the few
 * loop operations a step may call. Steps never keep their own state; they act on an Entry
 * inside `serial()` or read a snapshot off the loop.
 */
import type { Clock, TimerHandle } from '@aspire/agent-core';
import type { Logger } from 'pino';
import type { EventSink, SupervisionConfig } from '../contracts.ts';
import type { AgentState } from './agent-state.ts';
import type { JobError } from './job-error.ts';
import { noLimits, type LimitHandle, type Limiter } from './limits/limiter.ts';
import type { ProcessRunner } from './process-runner.ts';
import type { PolicyConfig } from './restart-policy.ts';
import type { RunSpec } from './run-spec.ts';

export interface SupervisorDeps {
  clock: Clock;
  logger: Logger;
  events: EventSink;
  stateDir: string;
  config: SupervisionConfig;
  runner: ProcessRunner;
  limiter: Limiter;
  /** Where a version's files are (cwd of its processes). */
  versionDir(name: string, version: string): string;
  logFile(name: string): string;
  /** Persist (defaults to the atomic state.json write; unit tests may observe it). */
  save?: (s: AgentState) => void;
}

export interface Entry {
  state: AgentState;
  spec: RunSpec;
  /** Our own child (exit event) or adopted (polled). */
  own: boolean;
  handle: LimitHandle;
  restartTimer?: TimerHandle;
  stopping: boolean;
  lastCheckAt: number;
  checking: boolean;
  watch?: { failed: boolean; reason: string; notify: () => void } | undefined;
  /** Tick time an own child was first found gone without its exit event. */
  goneSeenAt?: number | undefined;
  /** A start in progress (its precheck running off the loop, or its spawn queued). */
  starting?: PendingStart | undefined;
}

/** Compared by identity: a precheck result for a start that is no longer `starting` is dropped. */
export interface PendingStart {
  /** When the attempt began (a failed attempt counts as a start at this time for the policy). */
  attemptAt: number;
  /** Settles when the agent runs or the start failed; awaited by jobs, never inside serial. */
  done: Promise<void>;
  resolve(): void;
  reject(err: JobError): void;
}

export interface WatchResult {
  ok: boolean;
  reason: string;
  /** The BootAgent is stopping: the window did not end. */
  interrupted?: boolean;
}

/** The loop operations a split-out step may call (the Supervisor provides them). */
export interface LoopContext {
  readonly deps: SupervisorDeps;
  readonly policy: PolicyConfig;
  /** Run fn as the single writer; later inputs wait for it. */
  serial<T>(fn: () => Promise<T> | T): Promise<T>;
  /** Save an agent's state (inside serial), never throwing (state-persister.ts). */
  persist(s: AgentState): void;
  /** Arm the restart timer for an agent at wall ms `at` (inside serial). */
  scheduleRestart(e: Entry, at: number): void;
  /** The entry is still this agent's and the loop is not halted: a start may go on. */
  wanted(e: Entry): boolean;
  /** An exit seen for pid (the spawned child's exit event enters here). */
  exited(name: string, pid: number, code: number | null, signal: string | null): Promise<void>;
}

export function newEntry(state: AgentState, spec: RunSpec, now: number): Entry {
  return { state, spec, own: false, handle: noLimits, stopping: false, lastCheckAt: now, checking: false };
}
