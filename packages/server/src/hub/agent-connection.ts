/**
 * One accepted agent on the hub: writes request frames, matches replies by id, enforces each
 * request's deadline, and passes unprompted frames (task.result) to a sink. Never throws on
 * what the agent sends: a bad frame is answered `failed`/3021 and counted.
 */
import { randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Clock, TimerHandle } from '@aspire/agent-core';
import type { Logger } from 'pino';
import {
  ErrorCode,
  type FrameDecoder,
  SIGNED_FRAME_MARGIN_MS,
  encodeFrame,
  errorMessage,
  replyFrame,
  taskResultFrame,
  type ReplyFrame,
  type Signer,
  type TaskResultFrame,
  failedReply,
} from '@aspire/protocol';
import type { SharedDeadline } from './shared-deadline.ts';

interface Pending {
  resolve(r: ReplyFrame): void;
  timer: TimerHandle;
  /** The caller's id (a Polaris request id): what a cancel names. */
  callerId: string;
}

export interface ConnectionDeps {
  clock: Clock;
  logger: Logger;
  idleTimeoutMs: number;
  maxBadFrames: number;
  onTaskResult(host: AgentConnection, r: TaskResultFrame): void;
  onClose(host: AgentConnection): void;
  /**
   * Signs every request frame for this agent (target, id, expiry: docs/security.md). Agents
   * refuse unsigned frames; only tests of the channel itself leave it out.
   */
  signer?: Signer;
}

let nextConnId = 1;
/** Frame ids must not repeat across server restarts: agents refuse an id seen before (replay). */
const PROCESS_NONCE = randomBytes(6).toString('hex');

export class AgentConnection {
  readonly connId = nextConnId++;
  readonly connectedAt: number;
  private readonly pending = new Map<string, Pending>();
  private seq = 0;
  private badFrames = 0;
  private lastSeen: number;
  private idleTimer: TimerHandle | undefined;
  private closed = false;

  constructor(
    private readonly socket: TLSSocket,
    private readonly decoder: FrameDecoder,
    readonly hostname: string,
    readonly agentsn: string | undefined,
    readonly version: string | undefined,
    readonly remote: string,
    private readonly deps: ConnectionDeps,
  ) {
    this.connectedAt = deps.clock.now();
    this.lastSeen = deps.clock.monotonic();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => this.close('closed by agent'));
    this.armIdle();
  }

  /** Whom signed frames are addressed to: the agentsn the agent sent in init, else its hostname. */
  get target(): string {
    return this.agentsn ?? this.hostname;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Frames that arrived with the init, before this object existed. */
  feed(frames: unknown[]): void {
    for (const f of frames) this.onFrame(f);
  }

  /**
   * Send a request and wait for its reply. The frame's id is replaced by a hub id (callers'
   * ids are not unique across concurrent requests); the reply carries the caller's id back.
   */
  request(
    frame: Record<string, unknown> & { id: string; method: string },
    deadlineMs: number,
    shared?: SharedDeadline,
  ): Promise<ReplyFrame> {
    const o = this.open(frame, deadlineMs, shared);
    if (o.hubId !== undefined) {
      const out = { ...frame, id: o.hubId };
      this.write(this.deps.signer ? this.deps.signer.sign('frame', out, this.target, o.expires) : out);
    }
    return o.reply;
  }

  /**
   * Register a request (hub id, deadline) without sending it: a large fan-out signs the frames
   * of many connections in batches (polaris-fanout.ts) and sends each with sendText. `hubId`
   * replaces the frame's id in what is signed and sent; absent when the channel is already
   * closed (the reply says so);
   * `expires` is the signature's expiry: the deadline plus a margin for clock differences.
   * `shared`: the fan-out's one timer for deadlineMs (shared-deadline.ts) instead of one per request.
   */
  open(
    frame: Record<string, unknown> & { id: string; method: string },
    deadlineMs: number,
    shared?: SharedDeadline,
  ): { reply: Promise<ReplyFrame>; hubId?: string; expires: number } {
    const callerId = frame.id;
    const expires = this.deps.clock.now() + deadlineMs + SIGNED_FRAME_MARGIN_MS;
    if (this.closed) return { reply: Promise.resolve(failedReply(callerId, ErrorCode.CHANNEL_NOT_CONNECTED)), expires };
    const hubId = `${PROCESS_NONCE}.${this.connId}.${++this.seq}`;
    const reply = new Promise<ReplyFrame>((resolve) => {
      const onTimeout = () => {
        this.pending.delete(hubId);
        resolve(
          failedReply(
            callerId,
            ErrorCode.CHANNEL_TIMEOUT,
            `${errorMessage(ErrorCode.CHANNEL_TIMEOUT)} (${Math.round(deadlineMs / 1000)} s)`,
          ),
        );
      };
      const timer = shared ? shared.add(onTimeout) : this.deps.clock.setTimeout(onTimeout, deadlineMs);
      this.pending.set(hubId, { resolve: (r) => resolve({ ...r, id: callerId }), timer, callerId });
    });
    return { reply, hubId, expires };
  }

  /** Write one encoded frame (newline included) opened with open(); nothing once the channel is closed. */
  sendText(line: string): void {
    if (!this.closed && !this.socket.destroyed) this.socket.write(line);
  }

  /** Answer an opened request that could not be sent (its reply is `failed` with this code). */
  settle(hubId: string, code: number, message: string): void {
    const p = this.pending.get(hubId);
    if (!p) return;
    this.pending.delete(hubId);
    p.timer.cancel();
    p.resolve(failedReply(hubId, code, message));
  }

  /**
   * The hub ids of the requests waiting for a reply under a caller's id (what a `cancel` frame's
   * `target` names on the agent: it only ever saw the hub id).
   */
  pendingIdsOf(callerId: string): string[] {
    return [...this.pending].filter(([, p]) => p.callerId === callerId).map(([hubId]) => hubId);
  }

  close(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.idleTimer?.cancel();
    this.socket.destroy();
    for (const [id, p] of this.pending) {
      p.timer.cancel();
      p.resolve(
        failedReply(id, ErrorCode.CHANNEL_NOT_CONNECTED, `${errorMessage(ErrorCode.CHANNEL_NOT_CONNECTED)}: ${why}`),
      );
    }
    this.pending.clear();
    this.deps.logger.info(
      { hostname: this.hostname, agentsn: this.agentsn, remote: this.remote, why },
      'hub: agent disconnected',
    );
    this.deps.onClose(this);
  }

  private armIdle(): void {
    this.idleTimer?.cancel();
    const left = this.deps.idleTimeoutMs - (this.deps.clock.monotonic() - this.lastSeen);
    if (left <= 0) return this.close('idle: no frame within the idle timeout');
    this.idleTimer = this.deps.clock.setTimeout(() => this.armIdle(), left);
  }

  private write(frame: unknown): void {
    if (!this.closed && !this.socket.destroyed) this.socket.write(encodeFrame(frame));
  }

  private onData(chunk: Buffer): void {
    this.lastSeen = this.deps.clock.monotonic();
    for (const f of this.decoder.push(chunk)) {
      if (f.kind === 'frame') this.onFrame(f.value);
      else if (f.kind === 'malformed') this.bad(f.error);
      else return this.close(`frame over ${f.bytes} bytes`);
    }
  }

  private bad(error: string, id = ''): void {
    this.badFrames++;
    this.write(failedReply(id, ErrorCode.INVALID_PARAMS, `Invalid params: ${error}`));
    if (this.badFrames >= this.deps.maxBadFrames) this.close(`${this.badFrames} invalid frames`);
  }

  private onFrame(value: unknown): void {
    const v = value as { method?: unknown; id?: unknown; resp?: unknown } | null;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      if (v.method === 'ping') return this.write({ method: 'pong', ts: (v as { ts?: unknown }).ts });
      if (v.method === 'pong') return;
      if (v.method === 'task.result') {
        const r = taskResultFrame.validate(value);
        if (!r.ok) return this.bad(r.errors.join('; '));
        return this.deps.onTaskResult(this, r.value);
      }
      if (v.method === 'task.dropped') {
        this.deps.logger.warn(
          { hostname: this.hostname, count: (v as { count?: unknown }).count },
          'hub: agent dropped task results while disconnected',
        );
        return;
      }
      if (v.resp !== undefined) {
        const r = replyFrame.validate(value);
        if (!r.ok) return this.bad(r.errors.join('; '), typeof v.id === 'string' ? v.id : '');
        // A reply to a malformed frame of ours has id ''; anything unknown is a late answer.
        const p = this.pending.get(r.value.id);
        if (!p) return;
        this.pending.delete(r.value.id);
        p.timer.cancel();
        return p.resolve(r.value);
      }
    }
    this.bad('expected a reply, task.result or ping frame');
  }
}
