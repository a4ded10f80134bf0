/**
 * The job journal and event queue, on disk (journal.json in the state dir, written atomically).
 *
 * At most once: a job is recorded `started` (and that write is on disk) before it runs. A job
 * found `started` at load time was cut short by a crash or kill -9; it is not run again but
 * reported failed with JOB_INTERRUPTED. Ids whose results the server acknowledged are kept as
 * tombstones, so a job delivered again is answered from the record, never re-run. The tombstones
 * are bounded: past TOMBSTONES_MAX, those whose signed `expires` has passed go first (such a job
 * is refused as expired anyway); when a still-valid one must go, the replay floor rises to its
 * `expires` and every job expiring at or below the floor is refused (isBelowFloor), so a forgotten
 * id cannot be replayed. Results of jobs whose signature failed carry an id only the sender vouches
 * for: they are reported but leave no tombstone, so a flood of them cannot push real ids out.
 *
 * At least once: finished results stay until a push carrying them is answered 2xx.
 * Events: per-host monotonic localid (persisted), bounded queue, oldest dropped first and the
 * number dropped reported with the next push.
 */
import { join } from 'node:path';
import { readJsonFile, unixSeconds, type Clock } from '@aspire/agent-core';
import { ErrorCode, ErrorMessage, type AgentEvent, type EventKind, type JobResult } from '@aspire/protocol';
import type { EventSink, JobOutcome } from '../contracts.ts';
import { SerialWriter } from './serial-writer.ts';

export const JOURNAL_FILE = 'journal.json';
/** Acknowledged job ids remembered so a re-delivered job is not run again. */
export const TOMBSTONES_MAX = 1024;
/** A remembered result keeps this much of its message. */
export const TOMBSTONE_MESSAGE_MAX = 512;
/** Most results and most events one push carries (the wire allows 4096 of each); the rest wait. */
export const PUSH_BATCH_MAX = 1000;
/**
 * Most bytes of results plus events one push carries: well under the server's body limit
 * (MAX_STATUS_BODY_BYTES), so a backlog goes out over several pushes instead of never.
 */
export const PUSH_PAYLOAD_MAX_BYTES = 512 * 1024;
/** An event's `data` larger than this (as JSON) is replaced by a note saying so. */
export const EVENT_DATA_MAX_BYTES = 2048;

export interface JobEntry {
  id: string;
  action: string;
  state: 'started' | 'finished';
  /** Unix seconds the job was received. */
  received: number;
  errcode?: number;
  message?: string;
  /** The job's signed expiry (epoch ms), kept with its tombstone; absent when not verified. */
  expires?: number;
  /** The signature check refused it: reported, but no tombstone after the acknowledgement. */
  unverified?: true;
}

/** An acknowledged job's result, remembered (until its signed expiry at least) under its id. */
export interface Tombstone extends JobResult {
  expires?: number;
}

/** How a job is recorded: its signed expiry, or that its signature was refused. */
export interface JobRecordOptions {
  expires?: number;
  unverified?: boolean;
}

interface JournalFile {
  version: 1;
  jobs: JobEntry[];
  acked: Tombstone[];
  /** Replay floor (epoch ms): the latest `expires` of a tombstone evicted while still valid. */
  replayFloor?: number;
  events: AgentEvent[];
  eventsDropped: number;
  nextLocalId: number;
}

/** What one push carried; acknowledged as a whole when the push is answered 2xx. */
export interface PushPayload {
  jobs: JobResult[];
  events: AgentEvent[];
  eventsDropped: number;
}

export type JobLookup = { kind: 'new' } | { kind: 'pending'; entry: JobEntry } | { kind: 'acked'; result: Tombstone };

export class JobJournal implements EventSink {
  private readonly writer: SerialWriter;
  private jobs = new Map<string, JobEntry>();
  private acked = new Map<string, Tombstone>();
  private replayFloor = 0;
  private events: AgentEvent[] = [];
  private eventsDropped = 0;
  private nextLocalId = 1;
  /** Jobs found interrupted at load, for the caller to log. */
  readonly interrupted: string[] = [];
  /** Called after each event is queued (the agent pushes urgent ones early). */
  onEmit: ((ev: AgentEvent) => void) | undefined;

  private constructor(
    stateDir: string,
    private readonly clock: Clock,
    private readonly eventQueueMax: number,
  ) {
    this.writer = new SerialWriter(join(stateDir, JOURNAL_FILE));
  }

  /** Load the journal (a corrupt one is reported and replaced: the error says what was lost). */
  static async open(opts: {
    stateDir: string;
    clock: Clock;
    eventQueueMax: number;
    /**
     * Ids of jobs the sub-agent manager finishes itself (upgrades with a marker on disk): found
     * `started`, they stay so (not JOB_INTERRUPTED) until finish(), or interrupt() if not resumed.
     */
    resumable?: ReadonlySet<string>;
  }): Promise<{ journal: JobJournal; corrupt?: string; writeError?: string }> {
    const j = new JobJournal(opts.stateDir, opts.clock, opts.eventQueueMax);
    const r = readJsonFile<Partial<JournalFile>>(join(opts.stateDir, JOURNAL_FILE));
    let corrupt: string | undefined;
    if (r.kind === 'corrupt') corrupt = r.error;
    if (r.kind === 'ok' && r.value && typeof r.value === 'object') {
      const f = r.value;
      for (const e of Array.isArray(f.jobs) ? f.jobs : []) {
        if (e && typeof e.id === 'string') j.jobs.set(e.id, e);
      }
      for (const a of Array.isArray(f.acked) ? f.acked : []) {
        if (a && typeof a.id === 'string') j.acked.set(a.id, a);
      }
      j.replayFloor = typeof f.replayFloor === 'number' && Number.isFinite(f.replayFloor) ? f.replayFloor : 0;
      j.events = Array.isArray(f.events) ? f.events.filter((e) => e && typeof e.localid === 'number') : [];
      j.eventsDropped = typeof f.eventsDropped === 'number' ? f.eventsDropped : 0;
      j.nextLocalId = typeof f.nextLocalId === 'number' ? f.nextLocalId : 1;
      // Never reuse a localid, even if the counter was lost.
      for (const e of j.events) j.nextLocalId = Math.max(j.nextLocalId, e.localid + 1);
    }
    for (const e of j.jobs.values()) {
      if (e.state === 'started' && !opts.resumable?.has(e.id)) j.markInterrupted(e);
    }
    j.trimEvents();
    let writeError: string | undefined;
    // A full disk must not keep the agent from starting: it runs from memory and retries on the next write.
    await j.persist().catch((err: Error) => {
      writeError = err.message;
    });
    return {
      journal: j,
      ...(corrupt !== undefined ? { corrupt } : {}),
      ...(writeError !== undefined ? { writeError } : {}),
    };
  }

  /** Jobs kept `started` at open for the manager to finish that it did not take up: interrupted after all. */
  interrupt(ids: Iterable<string>): Promise<void> {
    let changed = false;
    for (const id of ids) {
      const e = this.jobs.get(id);
      if (e?.state === 'started') {
        this.markInterrupted(e);
        changed = true;
      }
    }
    return changed ? this.persist() : Promise.resolve();
  }

  private markInterrupted(e: JobEntry): void {
    e.state = 'finished';
    e.errcode = ErrorCode.JOB_INTERRUPTED;
    e.message = `${ErrorMessage.JOB_INTERRUPTED}: job ${e.action} was running when the agent stopped; not run again`;
    this.interrupted.push(e.id);
  }

  lookup(id: string): JobLookup {
    const entry = this.jobs.get(id);
    if (entry) return { kind: 'pending', entry };
    const result = this.acked.get(id);
    if (result) return { kind: 'acked', result };
    return { kind: 'new' };
  }

  /**
   * A signed job expiring at or below the replay floor: its id may have been forgotten (evicted
   * tombstone), so it must not run.
   */
  isBelowFloor(expires: number): boolean {
    return expires <= this.replayFloor;
  }

  /** Record the job as started; resolves once that is on disk. Only then may it run. */
  begin(id: string, action: string, opts: JobRecordOptions = {}): Promise<void> {
    this.jobs.set(id, { id, action, state: 'started', received: unixSeconds(this.clock), ...recordFields(opts) });
    return this.persist();
  }

  finish(id: string, outcome: JobOutcome): Promise<void> {
    const e = this.jobs.get(id);
    const action = e?.action ?? 'unknown';
    const received = e?.received ?? unixSeconds(this.clock);
    this.jobs.set(id, {
      id,
      action,
      state: 'finished',
      received,
      errcode: outcome.errcode,
      message: outcome.message,
      ...recordFields(e ?? {}),
    });
    return this.persist();
  }

  /** A job answered without running (invalid, unsupported, refused): journaled finished right away. */
  answer(id: string, action: string, outcome: JobOutcome, opts: JobRecordOptions = {}): Promise<void> {
    this.jobs.set(id, {
      id,
      action,
      state: 'finished',
      received: unixSeconds(this.clock),
      errcode: outcome.errcode,
      message: outcome.message,
      ...recordFields(opts),
    });
    return this.persist();
  }

  /** Re-report an acknowledged job's recorded result (the server delivered it again). */
  reReport(result: Tombstone): Promise<void> {
    this.acked.delete(result.id);
    this.jobs.set(result.id, {
      id: result.id,
      action: 'redelivered',
      state: 'finished',
      received: unixSeconds(this.clock),
      errcode: result.errcode,
      message: result.message,
      ...recordFields(result),
    });
    return this.persist();
  }

  emit(kind: EventKind, message: string, opts: { agent?: string; data?: Record<string, unknown> } = {}): void {
    const ev: AgentEvent = {
      localid: this.nextLocalId++,
      occurred: unixSeconds(this.clock),
      kind,
      message: message.slice(0, 4096),
    };
    if (opts.agent !== undefined) ev.agent = opts.agent;
    if (opts.data !== undefined) {
      const size = JSON.stringify(opts.data).length;
      ev.data = size <= EVENT_DATA_MAX_BYTES ? opts.data : { truncated: true, bytes: size };
    }
    this.events.push(ev);
    this.trimEvents();
    this.onEmit?.(ev);
    // Fire and forget: an event must not make its emitter wait; a failed write is retried by the next one.
    this.persist().catch(() => undefined);
  }

  /** How much waits to be pushed: finished job results not yet acknowledged, and events. */
  backlog(): { results: number; events: number } {
    let results = 0;
    for (const e of this.jobs.values()) if (e.state === 'finished') results++;
    return { results, events: this.events.length };
  }

  /** What the next push carries: the oldest results and events, at most `max` of each. */
  payload(max = PUSH_BATCH_MAX, maxBytes = PUSH_PAYLOAD_MAX_BYTES): PushPayload {
    let bytes = 0;
    const fits = (item: unknown) => {
      const n = JSON.stringify(item).length + 1;
      if (bytes + n > maxBytes) return false;
      bytes += n;
      return true;
    };
    const jobs: JobResult[] = [];
    for (const e of this.jobs.values()) {
      if (jobs.length >= max) break;
      if (e.state !== 'finished') continue;
      const r = { id: e.id, errcode: e.errcode ?? 0, message: (e.message ?? '').slice(0, 4096) };
      if (!fits(r)) break;
      jobs.push(r);
    }
    const events: AgentEvent[] = [];
    for (const ev of this.events) {
      if (events.length >= max || !fits(ev)) break;
      events.push(ev);
    }
    return { jobs, events, eventsDropped: this.eventsDropped };
  }

  /** A push carrying `sent` was answered 2xx: drop what it carried from the journal. */
  acknowledge(sent: PushPayload): Promise<void> {
    // An idle push carried nothing: no write (no disk traffic every step on an idle host).
    if (sent.jobs.length === 0 && sent.events.length === 0 && sent.eventsDropped === 0) return Promise.resolve();
    for (const r of sent.jobs) {
      const entry = this.jobs.get(r.id);
      this.jobs.delete(r.id);
      // An id the signature check refused is only the sender's word: no tombstone for it.
      if (entry?.unverified) continue;
      this.acked.set(r.id, {
        id: r.id,
        errcode: r.errcode,
        message: r.message.slice(0, TOMBSTONE_MESSAGE_MAX),
        ...(entry?.expires !== undefined ? { expires: entry.expires } : {}),
      });
    }
    this.evictTombstones();
    const sentIds = new Set(sent.events.map((e) => e.localid));
    this.events = this.events.filter((e) => !sentIds.has(e.localid));
    this.eventsDropped = Math.max(0, this.eventsDropped - sent.eventsDropped);
    return this.persist();
  }

  /** Counts for logs and the benchmark. */
  get sizes(): { pendingJobs: number; events: number; eventsDropped: number; tombstones: number; replayFloor: number } {
    return {
      pendingJobs: this.jobs.size,
      events: this.events.length,
      eventsDropped: this.eventsDropped,
      tombstones: this.acked.size,
      replayFloor: this.replayFloor,
    };
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }

  /** Over TOMBSTONES_MAX: expired tombstones go first, then the oldest, raising the replay floor. */
  private evictTombstones(): void {
    if (this.acked.size <= TOMBSTONES_MAX) return;
    const now = this.clock.now();
    for (const [id, t] of this.acked) {
      if (this.acked.size <= TOMBSTONES_MAX) return;
      if (t.expires !== undefined && t.expires <= now) this.acked.delete(id);
    }
    while (this.acked.size > TOMBSTONES_MAX) {
      const [id, t] = this.acked.entries().next().value as [string, Tombstone];
      this.acked.delete(id);
      if (t.expires !== undefined) this.replayFloor = Math.max(this.replayFloor, t.expires);
    }
  }

  private trimEvents(): void {
    const over = this.events.length - this.eventQueueMax;
    if (over > 0) {
      this.events.splice(0, over);
      this.eventsDropped += over;
    }
  }

  private persist(): Promise<void> {
    return this.writer.write(
      (): JournalFile => ({
        version: 1,
        jobs: [...this.jobs.values()],
        acked: [...this.acked.values()],
        replayFloor: this.replayFloor,
        events: this.events,
        eventsDropped: this.eventsDropped,
        nextLocalId: this.nextLocalId,
      }),
    );
  }
}

function recordFields(o: { expires?: number; unverified?: boolean }): Pick<JobEntry, 'expires' | 'unverified'> {
  return {
    ...(o.expires !== undefined ? { expires: o.expires } : {}),
    ...(o.unverified ? { unverified: true as const } : {}),
  };
}
