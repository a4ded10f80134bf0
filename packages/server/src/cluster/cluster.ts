/**
 * Several `aspire` nodes, one fleet (docs/scale.md). Enabled only on PostgreSQL; on SQLite the
 * server never creates one and nothing changes.
 *
 * - presence: each node records the BasicAgents connected to it (presence.ts) as they connect
 *   and leave, and renews its own row every heartbeat (liveness for all of them), so a Polaris
 *   request for a host connected nowhere answers 203 at once;
 * - routing: a request for a host held by another node goes to it over LISTEN/NOTIFY
 *   (node-bus.ts) and its reply comes back the same way; a cancel is mapped there to the
 *   host's pending request (only that node holds it);
 * - node loss: a request in flight on a node that is seen lost (row expired or its listener
 *   detached from PostgreSQL) is answered CHANNEL_NODE_LOST; if nothing answers, the
 *   requesting node's own deadline answers CHANNEL_TIMEOUT; nothing hangs;
 * - placement: the hub redirects a connecting agent to a less loaded live node, beyond a
 *   margin (placement.ts);
 * - sweeps: claimSweep lets one node per period run offline detection, retention, expiry.
 *
 * Lifecycle: createCluster() (no I/O) -> start({nodeId, advertise}, registry) -> stop().
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Clock, TimerHandle } from '@aspire/agent-core';
import type { Logger } from 'pino';
import { failedReply, ErrorCode, errorMessage, type ReplyFrame } from '@aspire/protocol';
import type { AgentRegistry } from '../hub/agent-registry.ts';
import type { AgentConnection } from '../hub/agent-connection.ts';
import { cancelOnConnection, cancelSpecOf } from '../hub/polaris-cancel.ts';
import { Periodic } from '../periodic.ts';
import { NodeBus, applicationNameOf, type BusMessage, type ClusterDb, type ForwardedFrame } from './node-bus.ts';
import { Placement, type LiveNode, type PlacementEntry } from './placement.ts';
import { MISSED_BEATS, PresenceTable, claimSweep, presenceIdentity } from './presence.ts';
import { ensureClusterSchema } from './schema.ts';

export { MISSED_BEATS } from './presence.ts';
/** Added to a routed request's deadline on the requesting node (the trip over two NOTIFYs). */
export const ROUTE_MARGIN_MS = 5000;
/** Rows of a lost node are kept this long (operators see it in GET /cluster/nodes meanwhile). */
const KEEP_LOST_MS = 3600_000;

export interface ClusterDeps {
  db: ClusterDb;
  heartbeatMs: number;
  /** Agents a node may hold beyond a less loaded one before redirecting (or 10% of its own). */
  redirectMargin: number;
  clock: Clock;
  logger: Logger;
}

export interface Cluster {
  /** Known once started. */
  readonly nodeId: string;
  start(node: { nodeId: string; advertise: string }, registry: AgentRegistry | undefined): Promise<void>;
  stop(): Promise<void>;
  /**
   * Requests for hosts not connected here: one presence lookup, one message per node holding
   * some of them; each host's answer (its node's reply, 203 at once, or a failure) by host.
   */
  routeMany(
    hosts: readonly string[],
    frame: ForwardedFrame,
    deadlineMs: number,
  ): Promise<Map<string, Promise<ReplyFrame>>>;
  /** Where to send a connecting agent instead of accepting it here (a less loaded node), if anywhere. */
  redirectFor(localAgents: number, host: { agentsn?: string | undefined; hostname: string }): string | undefined;
  hostConnected(c: AgentConnection): void;
  hostDisconnected(c: AgentConnection): void;
  /** True on the one node that runs this period's pass of a periodic sweep. */
  claimSweep(name: string, periodMs: number): Promise<boolean>;
  /** Live nodes and their agent counts, read now (GET /cluster/nodes). */
  nodes(): Promise<LiveNode[]>;
  /** The view the redirects use: live nodes and counts as of the last heartbeat (plus redirects since). */
  placement(): readonly PlacementEntry[];
}

interface PendingRoute {
  /** The node the request went to: lost, it answers CHANNEL_NODE_LOST. */
  node: string;
  resolve(r: ReplyFrame): void;
  timer: TimerHandle;
}

export function createCluster(deps: ClusterDeps): Cluster {
  const node = new ClusterNode(deps);
  // Plain functions over the node, so a caller may pass any of them on unbound.
  return {
    get nodeId() {
      return node.nodeId;
    },
    start: (n, reg) => node.start(n, reg),
    stop: () => node.stop(),
    routeMany: (hosts, frame, deadlineMs) => node.routeMany(hosts, frame, deadlineMs),
    redirectFor: (localAgents, host) => node.redirectFor(localAgents, host),
    hostConnected: (c) => node.background('presence insert', node.presence.connected(presenceOf(c), deps.clock.now())),
    hostDisconnected: (c) => node.background('presence delete', node.presence.disconnected(presenceOf(c))),
    claimSweep: (name, periodMs) => claimSweep(node.pool, name, node.nodeId, deps.clock.now(), periodMs),
    nodes: () => node.presence.liveNodes(deps.clock.now()),
    placement: () => node.placement.snapshot(),
  };
}

const presenceOf = (c: AgentConnection) => ({ agentsn: c.agentsn, hostname: c.hostname, connId: `${c.connId}` });

/** One node's state and its steps; createCluster() is its public face. */
class ClusterNode {
  nodeId = '';
  log: Logger;
  readonly ttlMs: number;
  readonly pool: pg.Pool;
  presence!: PresenceTable;
  bus!: NodeBus;
  readonly pending = new Map<string, PendingRoute>();
  registry: AgentRegistry | undefined;
  advertised = '';
  placement: Placement;
  /** Agents here at the last heartbeat, and when: the net rate the next one publishes. */
  lastBeat = { at: 0, agents: 0 };
  started = false;
  readonly heartbeat: Periodic;
  readonly housekeeping: Periodic;

  constructor(private readonly deps: ClusterDeps) {
    const { clock } = deps;
    this.log = deps.logger.child({ component: 'cluster' });
    this.ttlMs = deps.heartbeatMs * MISSED_BEATS;
    this.pool = new pg.Pool({ ...deps.db, max: 8, application_name: 'aspire-node-pool' });
    this.pool.on('error', (err) => this.log.warn({ err: err.message }, 'cluster: idle database connection failed'));
    this.placement = new Placement('', deps.redirectMargin);
    const housekeepingMs = Math.max(deps.heartbeatMs * 10, 10_000);
    this.heartbeat = new Periodic('cluster-heartbeat', clock, deps.heartbeatMs, () => this.beat(), deps.logger);
    this.housekeeping = new Periodic(
      'cluster-housekeeping',
      clock,
      housekeepingMs,
      async () => {
        if (await claimSweep(this.pool, 'cluster-housekeeping', this.nodeId, clock.now(), housekeepingMs))
          await this.presence.prune(clock.now(), KEEP_LOST_MS);
      },
      deps.logger,
    );
  }

  // Keyed by `<rid> <host>`: one routed request per host, several hosts per message.
  settle(key: string, r: ReplyFrame): void {
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    p.timer.cancel();
    p.resolve(r);
  }

  /** Run a routed frame on a channel of this node: a cancel maps the request id on this connection. */
  runHere(conn: AgentConnection, frame: ForwardedFrame, deadlineMs: number): Promise<ReplyFrame> {
    if (frame.method !== 'cancel') return conn.request(frame, deadlineMs);
    const spec = cancelSpecOf(frame);
    if (!spec)
      return Promise.resolve(
        failedReply(frame.id, ErrorCode.CHANNEL_NOTHING_TO_CANCEL, 'routed cancel names neither a request nor a task'),
      );
    return cancelOnConnection(conn, spec, frame.id, deadlineMs);
  }

  /** Another node's request for hosts it believes are here: each answered on its own as it ends. */
  serveRemote(m: Extract<BusMessage, { t: 'req' }>): void {
    for (const host of new Set(m.hosts)) {
      const conn = this.registry?.find(host);
      void (
        conn
          ? this.runHere(conn, m.frame, m.deadlineMs)
          : Promise.resolve(failedReply(m.frame.id, ErrorCode.NO_SUCH_HOST))
      )
        .then((reply) => this.bus.send(m.from, { t: 'rep', rid: m.rid, host, reply }))
        .catch((err: unknown) =>
          this.log.warn({ err: (err as Error).message, host }, 'cluster: cannot answer a routed request'),
        );
    }
  }

  /** Renew this node's row (its count and rate); see who is alive; answer requests stuck on lost nodes. */
  async beat(): Promise<void> {
    const now = this.deps.clock.now();
    const registry = this.registry;
    const agents = registry?.size ?? 0;
    const last = this.lastBeat;
    const rate = last.at > 0 && now > last.at ? ((agents - last.agents) * 1000) / (now - last.at) : 0;
    this.lastBeat = { at: now, agents };
    if ((await this.presence.beat(this.advertised, now, this.ttlMs, agents, rate)) && registry && registry.size > 0) {
      // Seen lost meanwhile, so housekeeping may have deleted the presence of channels still here.
      this.log.warn({ agents }, 'cluster: heartbeat had lapsed; presence written again');
      await this.presence.republish(registry.list().map(presenceOf), now);
    }
    this.placement.update(await this.presence.liveView(now));
    const alive = this.placement.liveIds();
    const lost = new Set<string>();
    for (const [key, p] of this.pending) {
      if (alive.has(p.node)) continue;
      lost.add(p.node);
      this.settle(
        key,
        failedReply('', ErrorCode.CHANNEL_NODE_LOST, `${errorMessage(ErrorCode.CHANNEL_NODE_LOST)}: ${p.node}`),
      );
    }
    for (const node of lost) this.log.warn({ node }, 'cluster: node lost with requests in flight');
  }

  background(what: string, p: Promise<unknown>): void {
    p.catch((err: unknown) => this.log.warn({ err: (err as Error).message }, `cluster: ${what} failed`));
  }

  async start(node: { nodeId: string; advertise: string }, reg: AgentRegistry | undefined): Promise<void> {
    const { deps } = this;
    const nodeId = node.nodeId;
    this.nodeId = nodeId;
    this.advertised = node.advertise;
    this.registry = reg;
    this.log = deps.logger.child({ component: 'cluster', nodeId });
    this.presence = new PresenceTable(this.pool, nodeId);
    this.placement = new Placement(nodeId, deps.redirectMargin);
    this.bus = new NodeBus({
      db: deps.db,
      pool: this.pool,
      nodeId,
      clock: deps.clock,
      logger: this.log,
      onMessage: (m) => {
        if (m.t === 'rep') return this.settle(`${m.rid} ${m.host}`, m.reply);
        if (m.t === 'exp') return this.placement.expect(m.ids, deps.clock.now());
        this.serveRemote(m);
      },
    });
    await ensureClusterSchema(this.pool);
    await this.presence.join();
    await this.bus.start();
    await this.beat();
    this.heartbeat.start();
    this.housekeeping.start();
    this.started = true;
    this.log.info(
      {
        advertise: this.advertised,
        heartbeatMs: deps.heartbeatMs,
        listener: applicationNameOf(nodeId),
        nodes: this.placement.size,
      },
      'cluster: node joined',
    );
  }

  async stop(): Promise<void> {
    await Promise.all([this.heartbeat.stop(), this.housekeeping.stop()]);
    for (const key of [...this.pending.keys()])
      this.settle(
        key,
        failedReply(
          '',
          ErrorCode.CHANNEL_NOT_CONNECTED,
          `${errorMessage(ErrorCode.CHANNEL_NOT_CONNECTED)}: server stopping`,
        ),
      );
    if (this.started) {
      await this.presence
        .leave()
        .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'cluster: cannot leave cleanly'));
      await this.bus.stop();
    }
    await this.pool.end().catch(() => {});
  }

  async routeMany(
    hosts: readonly string[],
    frame: ForwardedFrame,
    deadlineMs: number,
  ): Promise<Map<string, Promise<ReplyFrame>>> {
    const answers = new Map<string, Promise<ReplyFrame>>();
    let where: Map<string, string>;
    try {
      where = await this.presence.locate(hosts, this.deps.clock.now());
    } catch (err) {
      this.log.warn({ err: (err as Error).message, hosts: hosts.length }, 'cluster: presence lookup failed');
      for (const h of hosts)
        answers.set(
          h,
          Promise.resolve(
            failedReply(
              frame.id,
              ErrorCode.CHANNEL_NOT_CONNECTED,
              `${errorMessage(ErrorCode.CHANNEL_NOT_CONNECTED)}: presence unavailable`,
            ),
          ),
        );
      return answers;
    }
    const byNode = new Map<string, string[]>();
    for (const h of new Set(hosts)) {
      const node = where.get(h);
      if (!node) answers.set(h, Promise.resolve(failedReply(frame.id, ErrorCode.NO_SUCH_HOST)));
      else if (node === this.nodeId) {
        // Presence of a channel that has just closed here.
        const conn = this.registry?.find(h);
        answers.set(
          h,
          conn ? this.runHere(conn, frame, deadlineMs) : Promise.resolve(failedReply(frame.id, ErrorCode.NO_SUCH_HOST)),
        );
      } else byNode.set(node, [...(byNode.get(node) ?? []), h]);
    }
    for (const [node, nodeHosts] of byNode) this.sendTo(node, nodeHosts, frame, deadlineMs, answers);
    return answers;
  }

  /** One message to the node holding these hosts; each host's answer pending until its reply, loss or deadline. */
  private sendTo(
    node: string,
    nodeHosts: string[],
    frame: ForwardedFrame,
    deadlineMs: number,
    answers: Map<string, Promise<ReplyFrame>>,
  ): void {
    const rid = randomUUID();
    for (const h of nodeHosts) {
      const key = `${rid} ${h}`;
      answers.set(
        h,
        new Promise<ReplyFrame>((resolve) => {
          const timer = this.deps.clock.setTimeout(
            () =>
              this.settle(
                key,
                failedReply(
                  '',
                  ErrorCode.CHANNEL_TIMEOUT,
                  `${errorMessage(ErrorCode.CHANNEL_TIMEOUT)} (${Math.round(deadlineMs / 1000)} s, via ${node})`,
                ),
              ),
            deadlineMs + ROUTE_MARGIN_MS,
          );
          this.pending.set(key, { node, resolve: (r) => resolve({ ...r, id: frame.id }), timer });
        }),
      );
    }
    this.bus
      .send(node, { t: 'req', rid, from: this.nodeId, hosts: nodeHosts, frame, deadlineMs })
      .catch((err: unknown) => {
        this.log.warn({ err: (err as Error).message, node }, 'cluster: cannot route a request');
        for (const h of nodeHosts)
          this.settle(
            `${rid} ${h}`,
            failedReply(
              '',
              ErrorCode.CHANNEL_NOT_CONNECTED,
              `${errorMessage(ErrorCode.CHANNEL_NOT_CONNECTED)}: cannot reach ${node}`,
            ),
          );
      });
  }

  redirectFor(localAgents: number, host: { agentsn?: string | undefined; hostname: string }): string | undefined {
    const identity = presenceIdentity(host);
    const target = this.placement.choose(localAgents, identity, this.deps.clock.now());
    if (!target) return undefined;
    // Announced, so the target accepts the host whatever its own view says (no ping-pong).
    this.background('redirect notice', this.bus.send(target.nodeId, { t: 'exp', ids: [identity] }));
    return target.advertise;
  }
}
