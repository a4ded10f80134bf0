import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@aspire/protocol';
import {
  enrollHost,
  makeTestCa,
  startAspire,
  startBasicAgent,
  startPostgres,
  waitUntil,
  waitUntilPlacementCounts,
  type AspireHandle,
  type BasicAgentHandle,
  type PostgresHandle,
  type TestCa,
} from '@aspire/testing';

// Three real `aspire` nodes sharing one real PostgreSQL (presence, LISTEN/NOTIFY routing, sweep
// claims), each with its own SQLite store, and three real BasicAgents spread one per node by the
// hub's redirect (`redirectMargin` 0: with three agents any difference moves one). Every agent is
// configured with node 1's hub (on one machine the nodes differ by port, not by address; in a
// deployment the agents' serverHost names every node).

let pg: PostgresHandle;
let ca: TestCa;
const nodes: AspireHandle[] = [];
const agents: BasicAgentHandle[] = [];
/** When the first node was started: bounds how many periods of a periodic job have come round. */
let startedAt = 0;
const HOSTS = ['cl-host-1', 'cl-host-2', 'cl-host-3'];
/**
 * A node is lost after three missed heartbeats: 3 s here rides out the event-loop stalls of a
 * loaded test machine (at 500 ms a node stalled for 1.5 s leaves the others' view, its hosts
 * answer 203 and the next agent is placed without it).
 */
const HEARTBEAT_MS = 1000;
/** Nodes on the PostgreSQL store; false: each node keeps its own SQLite and PostgreSQL only carries the cluster layer. */
const ON_POSTGRES_STORE = process.env.ASPIRE_CLUSTER_TEST_SQLITE !== '1';

interface NodeView {
  nodeId: string;
  advertise: string;
  agents: number;
}

const clusterNodes = async (n: AspireHandle): Promise<{ self: string; nodes: NodeView[]; placement: NodeView[] }> => {
  const r = await n.api('GET', '/api/v1/server/cluster/nodes');
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
};
const localAgents = async (n: AspireHandle): Promise<string[]> => {
  const r = await n.api('GET', '/api/v1/server/polaris/agents');
  expect(r.status).toBe(200);
  return (r.body.agents as { hostname: string }[]).map((a) => a.hostname);
};
const polaris = (n: AspireHandle, body: Record<string, unknown>) =>
  n.api('POST', '/api/v1/server/polaris', { id: `cl-${Math.random()}`, ...body });

beforeAll(async () => {
  pg = await startPostgres({ database: 'aspire_cluster' });
  ca = makeTestCa();
  // The database URL (with its password) comes from a file, never a flag or a log line.
  const urlFile = join(pg.dir, 'cluster-url');
  writeFileSync(urlFile, `${pg.urlWithPassword}\n`, { mode: 0o600 });
  startedAt = Date.now();
  for (let i = 1; i <= 3; i++) {
    nodes.push(
      await startAspire({
        hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile },
        ...(ON_POSTGRES_STORE
          ? // The store is the shared PostgreSQL (ASPIRE_DATABASE_URL, read by `aspire serve` and `aspire token`); the cluster layer uses its connection.
            {
              env: { ...process.env, ASPIRE_DATABASE_URL: pg.urlWithPassword },
              config: { cluster: { nodeId: `node-${i}`, heartbeatMs: HEARTBEAT_MS, redirectMargin: 0 } },
            }
          : { config: { cluster: { urlFile, nodeId: `node-${i}`, heartbeatMs: HEARTBEAT_MS, redirectMargin: 0 } } }),
      }),
    );
  }
  await waitUntil(async () => (await clusterNodes(nodes[0]!)).placement.length === 3 || undefined, {
    timeoutMs: 30_000,
    what: 'node 1 sees three live nodes',
  });
  const entry = nodes[0]!.hubAddress!.port;
  for (const [k, hostname] of HOSTS.entries()) {
    // One database: the host registers once (on node 1), as its BootAgent would, not on every node.
    const dir = mkdtempSync(join(tmpdir(), 'aspire-cluster-agent-'));
    const identity = ON_POSTGRES_STORE ? await enrollHost([nodes[0]!], { hostname, dir }) : undefined;
    agents.push(
      await startBasicAgent({
        port: entry,
        caFile: ca.caCertFile,
        hostname,
        dir,
        ...(identity ? { identity, agentsn: identity.agentsn } : {}),
      }),
    );
    // Node 1 places the next agent by what is connected, as its heartbeat rows say.
    await waitUntilPlacementCounts(nodes[0]!, k + 1, 3);
  }
}, 180_000);

afterAll(async () => {
  for (const a of agents) await a.stop().catch(() => {});
  for (const n of nodes) await n.stop().catch(() => {});
  ca?.cleanup();
  await pg?.stop();
});

describe('several nodes, one fleet (PostgreSQL presence and LISTEN/NOTIFY routing)', () => {
  it('spreads the BasicAgents one per node with the redirect frame (least loaded)', async () => {
    const where = await Promise.all(nodes.map(localAgents));
    expect(where.map((w) => w.length)).toEqual([1, 1, 1]);
    expect(where.flat().sort()).toEqual([...HOSTS].sort());
    const view = await clusterNodes(nodes[1]!);
    expect(view.self).toBe('node-2');
    expect(view.nodes.map((n) => [n.nodeId, n.agents])).toEqual([
      ['node-1', 1],
      ['node-2', 1],
      ['node-3', 1],
    ]);
  });

  it('a Polaris fan-out sent to any node reaches the hosts on all three; a host connected nowhere answers 203', async () => {
    for (const n of nodes) {
      const r = await polaris(n, {
        hosts: [...HOSTS, 'cl-nowhere'],
        method: 'sync.bash',
        cmd: 'echo from-$((6*7))',
        timeout: 20,
      });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.response.map((e: { host: string }) => e.host)).toEqual([...HOSTS, 'cl-nowhere']);
      for (const e of r.body.response.slice(0, 3))
        expect(e).toMatchObject({ resp: 'success', retcode: 0, data: 'from-42\n' });
      expect(r.body.response[3]).toEqual({
        host: 'cl-nowhere',
        resp: 'failed',
        retcode: ErrorCode.NO_SUCH_HOST,
        message: 'No such host',
      });
    }
  });

  it('relays the periodic-task routes to the node holding the host (task.list), 404 for a host connected nowhere', async () => {
    const [onNode3] = await localAgents(nodes[2]!);
    const r = await nodes[0]!.api('GET', `/api/v1/server/polaris/tasks?host=${onNode3}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ host: onNode3, resp: 'success', retcode: 0 });
    const none = await nodes[0]!.api('GET', '/api/v1/server/polaris/tasks?host=cl-nowhere');
    expect(none.status).toBe(404);
  });

  it('answers 203 for a host connected nowhere at once (no deadline waited)', async () => {
    const t0 = Date.now();
    const r = await polaris(nodes[2]!, {
      hosts: ['cl-nowhere-either'],
      method: 'sync.bash',
      cmd: 'true',
      timeout: 120,
    });
    expect(r.body.response[0]).toMatchObject({ resp: 'failed', retcode: ErrorCode.NO_SUCH_HOST });
    // The request's deadline is 120 s + grace; "at once" is a database lookup (generous under load).
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('keeps presence written once per connection: a node whose row lapsed writes its presence again', async () => {
    const [onNode2] = await localAgents(nodes[1]!);
    // Heartbeats renew only the node rows: the presence rows stay as the connections wrote them.
    const before = await pg.psql(
      "SELECT identity || ' ' || since FROM aspire_cluster_presence ORDER BY 1",
      'aspire_cluster',
    );
    await new Promise((r) => setTimeout(r, 3 * HEARTBEAT_MS)); // three heartbeats
    expect(
      await pg.psql("SELECT identity || ' ' || since FROM aspire_cluster_presence ORDER BY 1", 'aspire_cluster'),
    ).toBe(before);
    // As after a database outage: node 2's row expired and housekeeping deleted its presence.
    await pg.psql(
      "UPDATE aspire_cluster_nodes SET expires = 0 WHERE node_id = 'node-2'; DELETE FROM aspire_cluster_presence WHERE node_id = 'node-2'",
      'aspire_cluster',
    );
    await waitUntil(
      async () => {
        const r = await polaris(nodes[0]!, { hosts: [onNode2], method: 'sync.bash', cmd: 'echo back', timeout: 10 });
        return r.body.response?.[0]?.resp === 'success' || undefined;
      },
      { timeoutMs: 30_000, what: "node 1 reaches node 2's host again" },
    );
  });

  it('carries a reply larger than a NOTIFY payload (8000 bytes) between nodes by a row', async () => {
    const [onNode3] = await localAgents(nodes[2]!);
    const r = await polaris(nodes[0]!, {
      hosts: [onNode3],
      method: 'sync.bash',
      cmd: "head -c 30000 /dev/zero | tr '\\0' a",
      timeout: 20,
    });
    expect(r.body.response[0]).toMatchObject({ resp: 'success', retcode: 0 });
    expect(r.body.response[0].data).toBe('a'.repeat(30000));
    // The payload rows are consumed when read.
    expect((await pg.psql('SELECT count(*) FROM aspire_cluster_payloads', 'aspire_cluster')).trim()).toBe('0');
  });

  it('routes POST /polaris/cancel to the node holding the host: a request sent through node 1 to a host on node 3 is cancelled from node 2', async () => {
    const [onNode3] = await localAgents(nodes[2]!);
    const requestId = `cl-cancel-${process.pid}`;
    // The agent runs on this machine: the file says the script has printed its first line.
    const marker = join(mkdtempSync(join(tmpdir(), 'aspire-cluster-cancel-')), 'started');
    const running = nodes[0]!.api('POST', '/api/v1/server/polaris', {
      id: requestId,
      hosts: [onNode3],
      method: 'sync.bash',
      cmd: `echo started; touch ${marker}; sleep 90; echo not-reached`,
      timeout: 120,
    });
    await waitUntil(async () => existsSync(marker) || undefined, {
      timeoutMs: 20_000,
      what: 'the routed command has started on node 3',
    });
    const cancel = await nodes[1]!.api('POST', '/api/v1/server/polaris/cancel', {
      hosts: [onNode3, 'cl-nowhere'],
      id: requestId,
    });
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
    expect(cancel.body.response[0]).toMatchObject({ host: onNode3, resp: 'success' });
    expect(cancel.body.response[1]).toMatchObject({ host: 'cl-nowhere', retcode: ErrorCode.NO_SUCH_HOST });
    const answered = await running;
    expect(answered.body.response[0]).toMatchObject({
      host: onNode3,
      resp: 'failed',
      retcode: ErrorCode.EXEC_CANCELLED,
    });
    expect(answered.body.response[0].data).toContain('started');
    expect(answered.body.response[0].data).not.toContain('not-reached');
    // Nothing runs under that id any more, whichever node is asked.
    const again = await nodes[0]!.api('POST', '/api/v1/server/polaris/cancel', { hosts: [onNode3], id: requestId });
    expect(again.body.response[0]).toMatchObject({ resp: 'failed', retcode: ErrorCode.CHANNEL_NOTHING_TO_CANCEL });
    rmSync(dirname(marker), { recursive: true, force: true });
  }, 60_000);

  const sweepRuns = async (name: string): Promise<number> =>
    Number((await pg.psql(`SELECT runs FROM aspire_cluster_sweeps WHERE name = '${name}'`, 'aspire_cluster')).trim());

  it('runs the scheduler tick and the offline sweep once per period across the cluster (a claim), not once per node', async () => {
    if (!ON_POSTGRES_STORE) {
      // Each node on its own SQLite runs its own store's periodic work: nothing is claimed.
      const claimed = await pg.psql(
        "SELECT count(*) FROM aspire_cluster_sweeps WHERE name <> 'cluster-housekeeping'",
        'aspire_cluster',
      );
      expect(claimed.trim()).toBe('0');
      return;
    }
    // Every node tries every period (schedulerIntervalMs 200 ms, offlineSweepSec 0.5 s in the test
    // defaults); only the claim's winner runs the pass.
    for (const [name, periodMs, more] of [
      ['scheduler', 200, 10],
      ['offline-sweep', 500, 6],
    ] as const) {
      const r0 = await sweepRuns(name);
      const t0 = Date.now();
      await waitUntil(async () => (await sweepRuns(name)) >= r0 + more || undefined, {
        timeoutMs: 30_000,
        what: `${more} more ${name} passes`,
      });
      const delta = (await sweepRuns(name)) - r0;
      // Claims are at least 0.95 period apart; three unsynchronised nodes would make about three times as many.
      expect(delta).toBeLessThanOrEqual(Math.floor((Date.now() - t0) / (periodMs * 0.95)) + 1);
      const holder = await pg.psql(
        `SELECT node_id FROM aspire_cluster_sweeps WHERE name = '${name}'`,
        'aspire_cluster',
      );
      expect(holder.trim()).toMatch(/^node-[123]$/);
    }
  });

  it('runs retention once across the cluster (each node tries it at start: one claim wins) and cluster housekeeping at most once per period', async () => {
    const row = async (name: string) =>
      (
        await pg.psql(
          `SELECT node_id || ' ' || runs FROM aspire_cluster_sweeps WHERE name = '${name}'`,
          'aspire_cluster',
        )
      ).trim();
    if (ON_POSTGRES_STORE) {
      // Period 1 h, tried by all three nodes as they started (under an hour ago): one pass in all.
      expect(await row('retention')).toMatch(/^node-[123] 1$/);
    }
    // Housekeeping (10 heartbeats, at least 10 s) is claimed whatever the store: its first pass
    // comes one period after a node starts; three unclaimed nodes would make three per period.
    const hkMs = 10_000;
    await waitUntil(async () => (await row('cluster-housekeeping')) !== '' || undefined, {
      timeoutMs: 30_000,
      what: 'a cluster housekeeping pass',
    });
    const runs = Number((await row('cluster-housekeeping')).split(' ')[1]);
    expect(runs).toBeGreaterThanOrEqual(1);
    expect(runs).toBeLessThanOrEqual(Math.floor((Date.now() - startedAt) / (hkMs * 0.95)));
  }, 60_000);

  it('kill -9 of a node: a command in flight on it is answered failed (CHANNEL_NODE_LOST) and its agent reconnects to another node within 30 s', async () => {
    const victim = nodes[1]!;
    const onVictim = await localAgents(victim);
    expect(onVictim).toHaveLength(1);
    const host = onVictim[0]!;
    // Routed from node 1 to the host on node 2: a command that runs for a long while.
    const t0 = Date.now();
    const inFlight = polaris(nodes[0]!, {
      hosts: [host],
      method: 'sync.bash',
      cmd: 'sleep 50; echo finished',
      timeout: 100,
    });
    await waitUntil(
      async () => {
        const r = await victim.api('GET', '/api/v1/server/polaris/agents');
        return (r.body.agents as { inflight: number }[]).some((a) => a.inflight > 0) || undefined;
      },
      { timeoutMs: 20_000, what: 'the routed command is in flight on node 2' },
    );
    victim.child.kill('SIGKILL');
    await victim.child.exited;
    const killedAt = Date.now();
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(r.body.response[0]).toMatchObject({ host, resp: 'failed', retcode: ErrorCode.CHANNEL_NODE_LOST });
    expect(r.body.response[0].message).toContain('node-2');
    // Answered when the node was seen lost, long before the command's own deadline (100 s).
    expect(Date.now() - t0).toBeLessThan(50_000);
    // Its BasicAgent comes back on one of the two other nodes.
    const survivors = [nodes[0]!, nodes[2]!];
    await waitUntil(async () => (await Promise.all(survivors.map(localAgents))).flat().includes(host) || undefined, {
      timeoutMs: 30_000,
      what: `${host} reconnected to node 1 or 3`,
    });
    expect(Date.now() - killedAt).toBeLessThan(30_000);
    // The lost node leaves the live view; commands reach the host again from either survivor.
    await waitUntil(
      async () => (await clusterNodes(nodes[2]!)).nodes.every((n) => n.nodeId !== 'node-2') || undefined,
      { timeoutMs: 20_000, what: 'node-2 gone from the live view' },
    );
    for (const n of survivors) {
      const again = await polaris(n, { hosts: HOSTS, method: 'sync.bash', cmd: 'echo back', timeout: 20 });
      for (const e of again.body.response) expect(e).toMatchObject({ resp: 'success', data: 'back\n' });
    }
  }, 120_000);
});
