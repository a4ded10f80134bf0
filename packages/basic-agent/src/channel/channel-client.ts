import { isIP } from 'node:net';
import { checkServerIdentity, connect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { Backoff, type Clock, type Logger, type TimerHandle } from '@aspire/agent-core';
import {
  ErrorCode,
  FrameDecoder,
  MAX_FRAME_BYTES,
  encodeFrame,
  handshakeReply,
  type ReplyFrame,
  type TaskResultFrame,
  failedReply,
} from '@aspire/protocol';
import { parseRedirect, resolveAll, type Endpoint } from './resolve.ts';

export interface ChannelClientOptions {
  serverHost: string;
  serverPort: number;
  /** PEM text of the CA; the server certificate must chain to it and match serverHost. */
  ca: string;
  hostname: string;
  /**
   * PEM client certificate and key for the hub (mutual TLS), asked at each connection attempt so
   * a renewed certificate is used from the next (re)connection on; undefined: none is sent.
   */
  clientIdentity?: () => { cert: string; key: string } | undefined;
  /** AgentSN for init, asked at each connection (BootAgent may register meanwhile). */
  agentsn?: () => string | undefined;
  version: string;
  heartbeatMs: number;
  connectTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  resultQueueMax: number;
  /** Redirects followed in a row before starting over from the configured host. */
  maxRedirects?: number;
}

export interface ChannelClientDeps {
  clock: Clock;
  logger: Logger;
  /** Answers one request frame; never rejects. */
  handle(frame: unknown): Promise<ReplyFrame>;
  /** Name to addresses; default every address dns.lookup gives (tests pass a fixed list). */
  resolve?: (host: string, port: number) => Promise<Endpoint[]>;
}

type Attempt =
  | { kind: 'accepted'; socket: TLSSocket; decoder: FrameDecoder; early: unknown[] }
  | { kind: 'redirect'; to: Endpoint[] }
  | { kind: 'failed'; error: string };

/**
 * The agent side of the command channel (design.md §4 "Command channel"):
 * resolve -> try each address (TLS from the first byte, server verified against the CA) ->
 * send init -> accept (session) or redirect (try the listed servers) -> on loss, jittered
 * backoff and start over. One session at a time.
 *
 * States: idle -> connecting -> handshaking -> connected -> (lost) -> waiting -> connecting ...
 * run(signal) returns when the signal aborts; the open session is closed then.
 */
export class ChannelClient {
  private readonly backoff: Backoff;
  private socket: TLSSocket | undefined;
  private readonly resultQueue: TaskResultFrame[] = [];
  private resultsDropped = 0;
  /** Connected sessions so far (tests and logs). */
  sessions = 0;

  constructor(
    private readonly opts: ChannelClientOptions,
    private readonly deps: ChannelClientDeps,
  ) {
    this.backoff = new Backoff({ baseMs: opts.backoffBaseMs, maxMs: opts.backoffMaxMs });
  }

  get connected(): boolean {
    return this.socket !== undefined;
  }

  /** Queue a periodic-task result for the server; sent now if connected, else on reconnect. */
  sendResult(r: TaskResultFrame): void {
    if (this.socket) {
      this.write(this.socket, r);
      return;
    }
    this.resultQueue.push(r);
    if (this.resultQueue.length > this.opts.resultQueueMax) {
      this.resultQueue.shift();
      this.resultsDropped++;
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    const log = this.deps.logger;
    while (!signal.aborted) {
      let accepted = false;
      try {
        accepted = await this.connectOnce(signal);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'channel attempt failed');
      }
      if (signal.aborted) break;
      if (accepted) this.backoff.reset();
      const delay = this.backoff.next();
      log.info({ delayMs: delay }, 'channel: reconnecting after delay');
      try {
        await this.deps.clock.sleep(delay, signal);
      } catch {
        break;
      }
    }
  }

  /** One pass over the configured host's addresses (following redirects). True if a session ran. */
  private async connectOnce(signal: AbortSignal): Promise<boolean> {
    const log = this.deps.logger;
    let targets: Endpoint[];
    try {
      targets = await (this.deps.resolve ?? resolveAll)(this.opts.serverHost, this.opts.serverPort);
    } catch (err) {
      log.warn({ host: this.opts.serverHost, err: (err as Error).message }, 'channel: cannot resolve server host');
      return false;
    }
    let redirects = 0;
    for (let i = 0; i < targets.length && !signal.aborted; i++) {
      const ep = targets[i]!;
      const r = await this.attempt(ep, signal);
      if (r.kind === 'failed') {
        log.warn(
          { address: ep.address, port: ep.port, error: r.error },
          'channel: server refused or unreachable; trying next address',
        );
        continue;
      }
      if (r.kind === 'redirect') {
        if (redirects++ >= (this.opts.maxRedirects ?? 3) || r.to.length === 0) {
          log.warn({ redirects }, 'channel: too many redirects or empty list; starting over');
          return false;
        }
        log.info({ to: r.to }, 'channel: redirected');
        targets = r.to;
        i = -1;
        continue;
      }
      await this.session(r.socket, r.decoder, r.early, ep, signal);
      return true;
    }
    return false;
  }

  /** TLS connect, init, wait for accept/redirect. */
  private attempt(ep: Endpoint, signal: AbortSignal): Promise<Attempt> {
    return new Promise<Attempt>((resolve) => {
      let done = false;
      const decoder = new FrameDecoder();
      const name = this.opts.serverHost.replace(/^\[(.*)\]$/, '$1');
      const identity = this.opts.clientIdentity?.();
      const socket = connect({
        host: ep.address,
        port: ep.port,
        ca: this.opts.ca,
        ...(identity ? { cert: identity.cert, key: identity.key } : {}),
        // Verify the certificate against the configured name, whatever address it came from
        // (an IP literal has no SNI; it is checked against the certificate's IP entries).
        ...(isIP(name)
          ? { checkServerIdentity: (_h: string, cert: PeerCertificate) => checkServerIdentity(name, cert) }
          : { servername: name }),
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
      });
      const timer: TimerHandle = this.deps.clock.setTimeout(
        () => finish({ kind: 'failed', error: 'connect/handshake timeout' }),
        this.opts.connectTimeoutMs,
      );
      const onAbort = () => finish({ kind: 'failed', error: 'aborted' });
      signal.addEventListener('abort', onAbort, { once: true });
      const finish = (a: Attempt) => {
        if (done) return;
        done = true;
        timer.cancel();
        signal.removeEventListener('abort', onAbort);
        socket.removeListener('data', onData);
        if (a.kind !== 'accepted') socket.destroy();
        resolve(a);
      };
      socket.on('error', (err) => finish({ kind: 'failed', error: err.message }));
      socket.on('close', () => finish({ kind: 'failed', error: 'closed before accept' }));
      socket.once('secureConnect', () => {
        const init: Record<string, unknown> = {
          method: 'init',
          hostname: this.opts.hostname,
          version: this.opts.version,
        };
        const agentsn = this.opts.agentsn?.();
        if (agentsn) init.agentsn = agentsn;
        this.write(socket, init);
      });
      const onData = (chunk: Buffer): void => {
        const frames = decoder.push(chunk);
        // Only the first frame is the handshake reply; whatever follows it belongs to the session.
        const f = frames[0];
        if (f !== undefined) {
          if (f.kind !== 'frame') return finish({ kind: 'failed', error: `bad handshake reply: ${f.kind}` });
          const v = handshakeReply.validate(f.value);
          if (!v.ok) return finish({ kind: 'failed', error: `bad handshake reply: ${v.errors.join('; ')}` });
          if (v.value.method === 'redirect')
            return finish({ kind: 'redirect', to: parseRedirect((v.value as { server: string }).server, ep.port) });
          // Frames that arrived in the same chunk as the accept belong to the session.
          const early = frames.slice(1).flatMap((x) => (x.kind === 'frame' ? [x.value] : []));
          return finish({ kind: 'accepted', socket, decoder, early });
        }
      };
      socket.on('data', onData);
    });
  }

  private session(
    socket: TLSSocket,
    decoder: FrameDecoder,
    early: unknown[],
    ep: Endpoint,
    signal: AbortSignal,
  ): Promise<void> {
    const log = this.deps.logger.child({ server: `${ep.address}:${ep.port}` });
    this.sessions++;
    log.info('channel: connected');
    this.socket = socket;
    return new Promise<void>((resolve) => {
      let lastSeen = this.deps.clock.monotonic();
      let hb: TimerHandle | undefined;
      let closed = false;
      const close = (why: string) => {
        if (closed) return;
        closed = true;
        hb?.cancel();
        signal.removeEventListener('abort', onAbort);
        if (this.socket === socket) this.socket = undefined;
        socket.destroy();
        log.warn({ why }, 'channel: disconnected');
        resolve();
      };
      const onAbort = () => {
        socket.end();
        close('agent stopping');
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const beat = () => {
        if (this.deps.clock.monotonic() - lastSeen > 3 * this.opts.heartbeatMs)
          return close('no frame for 3 heartbeats');
        this.write(socket, { method: 'ping', ts: this.deps.clock.now() });
        hb = this.deps.clock.setTimeout(beat, this.opts.heartbeatMs);
      };
      hb = this.deps.clock.setTimeout(beat, this.opts.heartbeatMs);
      const onFrame = (value: unknown) => {
        const method = (value as { method?: unknown })?.method;
        if (method === 'ping') return this.write(socket, { method: 'pong', ts: (value as { ts?: unknown }).ts });
        if (method === 'pong') return;
        if ((value as { resp?: unknown })?.resp !== undefined) return; // server acks are not requests
        void this.deps.handle(value).then((reply) => {
          if (!closed) this.write(socket, fitFrame(reply));
        });
      };
      socket.on('data', (chunk: Buffer) => {
        lastSeen = this.deps.clock.monotonic();
        for (const f of decoder.push(chunk)) {
          if (f.kind === 'frame') onFrame(f.value);
          else if (f.kind === 'malformed')
            this.write(socket, failedReply('', ErrorCode.INVALID_PARAMS, `Invalid params: ${f.error}`));
          else return close(`frame over ${f.bytes} bytes`);
        }
      });
      socket.on('error', (err) => close(err.message));
      socket.on('close', () => close('closed by server'));
      for (const f of early) onFrame(f);
      // Results held while away go out first, with the count of those that did not fit.
      if (this.resultsDropped > 0) {
        log.warn({ dropped: this.resultsDropped }, 'channel: task results dropped while disconnected');
        this.write(socket, { method: 'task.dropped', count: this.resultsDropped });
        this.resultsDropped = 0;
      }
      for (const r of this.resultQueue.splice(0)) this.write(socket, r);
    });
  }

  private write(socket: TLSSocket, frame: unknown): void {
    if (!socket.destroyed) socket.write(encodeFrame(frame));
  }
}

/**
 * A reply the server could not read (over MAX_FRAME_BYTES, e.g. getinfo.processes on a host
 * with huge command lines) would cost the whole session; it becomes a failed reply instead.
 */
export function fitFrame(reply: ReplyFrame, max = MAX_FRAME_BYTES): ReplyFrame {
  const size = Buffer.byteLength(JSON.stringify(reply));
  if (size < max) return reply;
  // Only collector data can get this big (sync.bash output is capped at 64 KiB).
  return failedReply(
    reply.id,
    ErrorCode.COLLECTOR_FAILED,
    `Reply of ${size} bytes exceeds the ${max}-byte frame limit`,
  );
}
