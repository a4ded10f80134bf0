/**
 * The server's command hub for BasicAgents (design.md §4 "Command channel"): a TLS listener,
 * the accept/redirect decision, the registry of connected agents, request/response
 * correlation with deadlines. Periodic-task results go into the server's store (one database).
 *
 * Connection states: tls-handshake (client certificate of the host CA required) -> awaiting-init
 * (deadline) -> identity check (init-identity.ts) -> accepted (registered) | redirected | refused (closed)
 * -> closed. Nothing an agent sends can throw out of here: bad frames are answered and counted.
 */
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { Clock, TimerHandle } from '@aspire/agent-core';
import type { Logger } from 'pino';
import {
  failedReply,
  FrameDecoder,
  encodeFrame,
  errorMessage,
  initFrame,
  type InitFrame,
  type Signer,
} from '@aspire/protocol';
import { AgentConnection } from './agent-connection.ts';
import { AgentRegistry } from './agent-registry.ts';
import { batchFrameSigner, type BatchFrameSigner } from './frame-sign-worker.ts';
import type { HubOptions } from './hub-options.ts';
import { checkInitIdentity, type IdentityVerdict } from './init-identity.ts';
import { normalizeFingerprint } from '../trust/cert-fingerprint.ts';
import type { Store } from '../store/store.ts';
import type { Cluster } from '../cluster/cluster.ts';

export interface CommandHubDeps {
  options: Readonly<HubOptions>;
  clock: Clock;
  logger: Logger;
  /**
   * The server's store: task.result frames are kept there (addTaskResult, listTaskResults); the
   * init identity check looks the certificate's host up (hostIdentity) and records refusals on it.
   */
  store: Pick<Store, 'addTaskResult' | 'listTaskResults' | 'hostIdentity' | 'addServerEvent'>;
  /**
   * PEM of the host CA (and, during a rotation, the previous one): every agent must present a
   * client certificate it issued (docs/security.md "Host identity").
   */
  hostCaCerts: string[];
  /** Results kept per host and task (server config taskResultsKeep). */
  keepResults: number;
  /** Signs every command frame (the server's signing key, trust/signing-key.ts). */
  signer?: Signer;
  /**
   * Several nodes on PostgreSQL (cluster/cluster.ts, docs/scale.md): presence of the agents
   * connected here, least-loaded redirects, routing to hosts held by other nodes.
   */
  cluster?: Cluster;
}

export interface CommandHub {
  readonly registry: AgentRegistry;
  /** Where the Polaris routes read stored task results. */
  readonly store: Pick<Store, 'listTaskResults'>;
  readonly options: Readonly<HubOptions>;
  /** The hub's clock (request deadlines). */
  readonly clock: Clock;
  /** The cluster layer when several nodes share PostgreSQL (absent on SQLite). */
  readonly cluster?: Cluster;
  /** Signs a large fan-out's frames in batches on a worker thread (absent without a signing key). */
  readonly frameSigner?: BatchFrameSigner;
  /** Listen; resolves with the bound address. */
  start(): Promise<{ host: string; port: number }>;
  /** Stop accepting, close every agent connection (pending requests answer not-connected). */
  stop(): Promise<void>;
  /** Close a host's live channel here, if it has one (the host was deleted or reset); true when one was closed. */
  closeHost(agentsn: string, reason: string): boolean;
  /** Counters for logs and benchmarks. */
  stats(): { connected: number; refusedTls: number; refusedInit: number; refusedIdentity: number; redirected: number };
}

/** What the connection steps below share: the hub's dependencies, counters and open sockets. */
interface HubState {
  deps: CommandHubDeps;
  options: Readonly<HubOptions>;
  clock: Clock;
  log: Logger;
  registry: AgentRegistry;
  counters: { refusedTls: number; refusedInit: number; refusedIdentity: number; redirected: number };
  /** Raw sockets, so stop() also ends connections still in the TLS handshake or awaiting init. */
  sockets: Set<Socket>;
  /**
   * The TLS handshake has the init wait's deadline (handshakeTimeoutMs, on the injected clock):
   * a client that connects and never starts TLS is closed as surely as one that never sends
   * init. Keyed by peer address: a TLS socket has its raw socket's peer, unique among the
   * listener's open connections.
   */
  tlsDeadlines: Map<string, TimerHandle>;
}

const peerOf = (s: { remoteAddress?: string | undefined; remotePort?: number | undefined }) =>
  `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`;

export function createCommandHub(deps: CommandHubDeps): CommandHub {
  const { options, clock } = deps;
  const log = deps.logger.child({ component: 'hub' });
  const registry = new AgentRegistry();
  const counters = { refusedTls: 0, refusedInit: 0, refusedIdentity: 0, redirected: 0 };
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const h: HubState = { deps, options, clock, log, registry, counters, sockets, tlsDeadlines: new Map() };
  const frameSigner = deps.signer ? batchFrameSigner(deps.signer) : undefined;

  return {
    registry,
    store: deps.store,
    options,
    clock,
    ...(deps.cluster ? { cluster: deps.cluster } : {}),
    ...(frameSigner ? { frameSigner } : {}),
    start() {
      return new Promise((resolve, reject) => {
        // Mutual TLS: no client certificate of the host CA, no connection (docs/security.md).
        server = createServer(
          {
            cert: options.cert,
            key: options.key,
            minVersion: 'TLSv1.2',
            ca: deps.hostCaCerts,
            requestCert: true,
            rejectUnauthorized: true,
          },
          (socket) => onSocket(h, socket),
        );
        // Plaintext clients, wrong-CA clients that abort, port scanners: logged, never fatal;
        // one that sends nothing is closed at the handshake deadline.
        server.on('connection', (raw: Socket) => onRawConnection(h, raw));
        server.on('tlsClientError', (err, sock) => {
          counters.refusedTls++;
          log.warn({ remote: sock.remoteAddress, err: err.message }, 'hub: TLS handshake failed');
        });
        server.once('error', reject);
        server.listen(options.port, options.host, () => {
          const a = server!.address();
          if (a && typeof a === 'object') resolve({ host: a.address, port: a.port });
          else reject(new Error('hub: no address'));
        });
      });
    },
    async stop() {
      for (const c of registry.list()) c.close('server stopping');
      for (const s of sockets) s.destroy();
      await frameSigner?.close();
      // The store belongs to the server (main.ts closes it after the hub has stopped).
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    },
    closeHost(agentsn, reason) {
      const c = registry.byAgentsn(agentsn);
      if (!c) return false;
      log.warn({ agentsn, hostname: c.hostname, remote: c.remote, why: reason }, 'hub: channel closed by the server');
      c.close(reason);
      return true;
    },
    stats: () => ({ connected: registry.size, ...counters }),
  };
}

function onRawConnection(h: HubState, raw: Socket): void {
  h.sockets.add(raw);
  const peer = peerOf(raw);
  const deadline = h.clock.setTimeout(() => {
    h.counters.refusedTls++;
    h.log.warn({ remote: peer, why: 'no TLS handshake in time' }, 'hub: connection refused');
    raw.destroy();
  }, h.options.handshakeTimeoutMs);
  h.tlsDeadlines.set(peer, deadline);
  raw.once('close', () => {
    h.sockets.delete(raw);
    deadline.cancel();
    if (h.tlsDeadlines.get(peer) === deadline) h.tlsDeadlines.delete(peer);
  });
}

function onSocket(h: HubState, socket: TLSSocket): void {
  const remote = peerOf(socket);
  h.tlsDeadlines.get(remote)?.cancel();
  h.tlsDeadlines.delete(remote);
  const decoder = new FrameDecoder();
  let done = false;
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 60_000);
  const refuse = (why: string) => {
    if (done) return;
    done = true;
    h.counters.refusedInit++;
    timer.cancel();
    h.log.warn({ remote, why }, 'hub: connection refused');
    socket.destroy();
  };
  const timer = h.clock.setTimeout(() => refuse('no init frame in time'), h.options.handshakeTimeoutMs);
  const onError = (err: Error) => refuse(`socket error: ${err.message}`);
  const onClose = () => refuse('closed before init');
  socket.on('error', onError);
  socket.on('close', onClose);
  const onData = (chunk: Buffer) => {
    const frames = decoder.push(chunk);
    if (frames.length === 0) return;
    const first = frames[0]!;
    if (first.kind !== 'frame') return refuse(`first frame ${first.kind}`);
    const v = initFrame.validate(first.value);
    if (!v.ok) {
      socket.write(encodeFrame(failedReply('', 3021, `Invalid params: ${v.errors.join('; ')}`)));
      return refuse(`bad init: ${v.errors.join('; ')}`);
    }
    done = true;
    timer.cancel();
    // Only our own listeners: node's TLSSocket has its own 'close' handler (frees the SSL).
    socket.removeListener('data', onData);
    socket.removeListener('close', onClose);
    socket.removeListener('error', onError);
    const init = v.value;
    // The identity check reads the store: hold the agent's next frames (they stay in the
    // socket) until the connection is accepted or refused.
    socket.pause();
    socket.on('error', () => {}); // until accepted (AgentConnection) or refused: a reset must not throw
    const cert = socket.getPeerCertificate();
    const peer = {
      authorized: socket.authorized,
      subjectAltName: cert?.subjectaltname,
      fingerprint: cert?.fingerprint256 ? normalizeFingerprint(cert.fingerprint256) : undefined,
    };
    checkInitIdentity(peer, init, h.deps.store).then(
      (verdict) => {
        if (socket.destroyed) return;
        if (!verdict.ok) return refuseIdentity(h, socket, remote, init, verdict);
        accept(h, socket, remote, init, verdict.agentsn, decoder, frames.slice(1));
      },
      (err: unknown) => {
        h.log.error({ err, remote }, 'hub: identity check failed');
        socket.destroy();
      },
    );
  };
  socket.on('data', onData);
}

function refuseIdentity(
  h: HubState,
  socket: TLSSocket,
  remote: string,
  init: InitFrame,
  verdict: Extract<IdentityVerdict, { ok: false }>,
): void {
  h.counters.refusedIdentity++;
  const message = `${errorMessage(verdict.code)}: ${verdict.reason}`;
  h.log.warn(
    {
      remote,
      hostname: init.hostname,
      agentsn: init.agentsn,
      certificate: verdict.host,
      code: verdict.code,
      why: verdict.reason,
    },
    'hub: init refused (host identity)',
  );
  socket.end(encodeFrame(failedReply('', verdict.code, message)));
  socket.on('error', () => {});
  if (verdict.host) {
    h.deps.store
      .addServerEvent(
        verdict.host,
        'refused',
        `command channel refused from ${remote}: ${message}`,
        {
          errcode: verdict.code,
          remote,
          hostname: init.hostname,
          ...(init.agentsn ? { agentsn: init.agentsn } : {}),
        },
        h.clock.now(),
      )
      .catch((err: unknown) => h.log.error({ err }, 'hub: cannot record the refusal event'));
  }
}

function accept(
  h: HubState,
  socket: TLSSocket,
  remote: string,
  init: InitFrame,
  agentsn: string,
  decoder: FrameDecoder,
  rest: ReturnType<FrameDecoder['push']>,
): void {
  // A static --hub-redirect wins; else, in a cluster, a less loaded live node (design.md §4 redirect).
  const redirectTo = h.options.redirect
    ? h.registry.size >= h.options.redirectOver
      ? h.options.redirect
      : undefined
    : h.deps.cluster?.redirectFor(h.registry.size, { agentsn, hostname: init.hostname });
  if (redirectTo) {
    h.counters.redirected++;
    h.log.info({ remote, hostname: init.hostname, to: redirectTo }, 'hub: agent redirected');
    socket.end(encodeFrame({ method: 'redirect', server: redirectTo }));
    socket.on('error', () => {});
    return;
  }
  const conn = new AgentConnection(socket, decoder, init.hostname, agentsn, init.version, remote, {
    clock: h.clock,
    logger: h.log,
    idleTimeoutMs: h.options.idleTimeoutMs,
    maxBadFrames: h.options.maxBadFrames,
    onTaskResult: (c, r) => {
      const row = { ...r, host: c.hostname, ...(c.agentsn ? { agentsn: c.agentsn } : {}), received: h.clock.now() };
      h.deps.store.addTaskResult(row, h.deps.keepResults).catch((err: unknown) => {
        h.log.error({ err, hostname: c.hostname }, 'hub: cannot store task result');
      });
    },
    onClose: (c) => {
      h.registry.remove(c);
      h.deps.cluster?.hostDisconnected(c);
    },
    ...(h.deps.signer ? { signer: h.deps.signer } : {}),
  });
  const old = h.registry.add(conn);
  old?.close('replaced by a new connection from the same host');
  h.deps.cluster?.hostConnected(conn);
  socket.write(encodeFrame({ method: 'accept' }));
  h.log.info({ remote, hostname: init.hostname, agentsn, version: init.version }, 'hub: agent connected');
  conn.feed(rest.flatMap((f) => (f.kind === 'frame' ? [f.value] : [])));
  socket.resume();
}
