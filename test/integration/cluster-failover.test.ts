// Issue 12's must-show: three real `aspire` nodes on one real PostgreSQL store, a real BootAgent
// and a real BasicAgent per simulated host (three hosts), a Polaris fan-out reaching the hosts on
// all three nodes and a TAG task with batch and retry, and `kill -9` of one node in the middle of
// both. Proven here: BasicAgents reconnect to the other nodes within 30 s; the BootAgents spread
// their status pushes over the nodes and the one whose node died fails over to the next; the
// subtask the killed node had reserved (its reply never reached the host) goes back to READY after
// ttr and runs then, once; the command in flight on the lost node is answered CHANNEL_NODE_LOST;
// every subtask runs exactly once (each run appends a line to a file: the lines are counted).
//
// How "killed while its reply was on the way" is made certain rather than left to chance: the
// victim's HTTP address reaches the BootAgents through a small forwarding proxy
// (packages/testing/fixtures/swallowing-proxy.ts); the first status reply carrying a job that
// comes back through it is held, the node is killed -9, and the BootAgent's connection is cut
// (exactly what a node dying mid-reply looks like from the host).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, generateSigningKeyPem } from '@aspire/protocol';
import {
  makeTestCa,
  startAspire,
  startBasicAgent,
  startBoot,
  startPostgres,
  waitUntil,
  waitUntilPlacementCounts,
  type AspireHandle,
  type BasicAgentHandle,
  type BootHandle,
  type PostgresHandle,
  type TestCa,
} from '@aspire/testing';
import { stableHash } from '../../packages/boot-agent/src/net/server-choice.ts';
import { startPackageServer, type PackageServer } from '../../packages/testing/fixtures/package-server.ts';
import { startSwallowingProxy, type SwallowingProxy } from '../../packages/testing/fixtures/swallowing-proxy.ts';

const HOSTS = ['cf-host-1', 'cf-host-2', 'cf-host-3'];
/** The node killed: not node 1, whose hub port every BasicAgent is configured with. */
const VICTIM = 1;
const ENROLL = `cf-enroll-${process.pid}`;

let pg: PostgresHandle;
let ca: TestCa;
let work: string;
let pkg: PackageServer;
let proxy: SwallowingProxy;
const nodes: AspireHandle[] = [];
const boots: BootHandle[] = [];
const agents: BasicAgentHandle[] = [];
const sns: string[] = [];
let runsFile: string;
/** `SHA256:<hex>` of the RunOnce package. */
let checksum: string;

/** An agentsn whose place in a list of n servers (net/server-choice.ts) is `at`. */
function agentsnPreferring(at: number, n: number, host: string): string {
  for (let i = 0; ; i++) {
    const h = createHash('sha256').update(`${host}-${i}`).digest('hex');
    const sn = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
    if (stableHash(sn) % n === at) return sn;
  }
}

const clusterNodes = async (n: AspireHandle) => {
  const r = await n.api('GET', '/api/v1/server/cluster/nodes');
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as { nodes: { nodeId: string; agents: number }[]; placement: { agents: number }[] };
};
const localAgents = async (n: AspireHandle): Promise<{ hostname: string; inflight: number }[]> => {
  const r = await n.api('GET', '/api/v1/server/polaris/agents');
  expect(r.status).toBe(200);
  return r.body.agents;
};
const pushesAnswered = async (n: AspireHandle): Promise<number> => {
  const res = await fetch(`${n.url}/metrics`, { headers: { authorization: `Bearer ${n.token}` } });
  const m = /^aspire_status_pushes_total (\d+)/m.exec(await res.text());
  return Number(m?.[1] ?? Number.NaN);
};
/** Runs of the RunOnce sub-agent per host (one line per start, written by the agent itself). */
const runsOf = (stateDir: string): number =>
  existsSync(runsFile)
    ? readFileSync(runsFile, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith(stateDir)).length
    : 0;

/**
 * A fan-out through node 1 to every host that runs until `release` exists; resolved once in flight
 * on all nodes, with its answer still to come (wrapped: an async function would wait for it).
 */
async function heldFanOut(release: string): Promise<{ answer: Promise<{ status: number; body: any }> }> {
  const fanOut = nodes[0]!.api('POST', '/api/v1/server/polaris', {
    id: `cf-fanout-${process.pid}`,
    hosts: HOSTS,
    method: 'sync.bash',
    cmd: `while [ ! -e '${release}' ]; do sleep 0.2; done; echo released`,
    timeout: 150,
  });
  await waitUntil(
    async () => {
      const all = await Promise.all(nodes.map(localAgents));
      return all.every((list) => list.some((a) => a.inflight > 0)) || undefined;
    },
    { timeoutMs: 30_000, what: 'the fan-out in flight on all three nodes' },
  );
  return { answer: fanOut };
}

/** Tag the three hosts and install RunOnce on the tag: batch 1, retry 2, ttr 10 s, a 30 s window. */
async function createTagTask(): Promise<number> {
  const tag = await nodes[2]!.api('POST', '/api/v1/server/tag', { name: 'cf', value: 'once' });
  expect(tag.status, JSON.stringify(tag.body)).toBe(200);
  const bound = await nodes[0]!.api('POST', '/api/v1/server/tag/bind', { id: tag.body.tag.id, agents: sns });
  expect(bound.body).toMatchObject({ status: 0, changed: 3 });
  const nowS = Math.floor(Date.now() / 1000);
  const created = await nodes[2]!.api('POST', '/api/v1/server/task', {
    command: 'install',
    tags: 'cf=once',
    window: { start: nowS - 1, end: nowS + 30 },
    batch: 1,
    retry: { count: 2, interval: 0 },
    ttr: 10,
    parameters: { name: 'RunOnce', version: '1.0.0', url: `${pkg.url}/RunOnce-1.0.0.tar.gz`, checksum },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  return created.body.id as number;
}

/** The promise's value, or a failure naming what was seen when it did not come in time. */
async function withDeadline<T>(p: Promise<T>, ms: number, seen: () => Promise<string>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => void seen().then((s) => reject(new Error(`no job-carrying reply through the victim in ${ms} ms; ${s}`))),
      ms,
    );
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

const taskState = async (taskId: number): Promise<string> => {
  const t = await nodes[0]!.api('GET', `/api/v1/server/task?id=${taskId}`);
  return JSON.stringify({ task: t.body.task, subtasks: t.body.subtasks });
};

/** The store's tables whose rows the kill must not lose (counted straight from PostgreSQL). */
const KEPT_TABLES = ['hosts', 'tasks', 'subtasks', 'events', 'audit', 'task_results'] as const;
interface DbSnapshot {
  counts: Record<(typeof KEPT_TABLES)[number], number>;
  /** Every subtask by id: "<taskid> <agentsn> <state>". */
  subtasks: Map<string, string>;
}
async function dbSnapshot(): Promise<DbSnapshot> {
  const q = (sql: string) => pg.psql(sql, 'aspire_failover');
  const counts = (await q(`SELECT ${KEPT_TABLES.map((t) => `(SELECT count(*) FROM ${t})`).join(', ')}`))
    .trim()
    .split('|')
    .map(Number);
  const rows = (await q("SELECT id, taskid || ' ' || agentsn || ' ' || state FROM subtasks ORDER BY id")).trim();
  return {
    counts: Object.fromEntries(KEPT_TABLES.map((t, i) => [t, counts[i]!])) as DbSnapshot['counts'],
    subtasks: new Map(rows ? rows.split('\n').map((l) => l.split('|') as [string, string]) : []),
  };
}
/** Nothing in `before` is gone from `after`: no table shrank, every subtask is still there (same task and host), none that had ended went back. */
function expectNothingLost(before: DbSnapshot, after: DbSnapshot): void {
  for (const t of KEPT_TABLES) expect(after.counts[t], `${t} rows`).toBeGreaterThanOrEqual(before.counts[t]);
  for (const [id, was] of before.subtasks) {
    const now = after.subtasks.get(id);
    expect(now, `subtask ${id}`).toBeDefined();
    const [taskid, agentsn, state] = was.split(' ');
    expect(now!.split(' ').slice(0, 2), `subtask ${id}`).toEqual([taskid, agentsn]);
    if (state === 'SUCCESS' || state === 'FAILED') expect(now!.split(' ')[2], `subtask ${id}`).toBe(state);
  }
}

/** The task completes with every subtask SUCCESS on its first attempt, and each host ran it once. */
async function expectEachRanOnce(taskId: number): Promise<void> {
  const done = await waitUntil(
    async () => {
      const t = await nodes[2]!.api('GET', `/api/v1/server/task?id=${taskId}`);
      return t.body.task?.status === 'COMPLETE' ? t.body : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 500, what: 'the tag task complete' },
  );
  expect(done.task).toMatchObject({ count: 3, complete: 3 });
  const subtasks = done.subtasks as { agentsn: string; state: string; requeues: number; attempts: number }[];
  const bySn = new Map(subtasks.map((s) => [s.agentsn, s]));
  for (const sn of sns) expect(bySn.get(sn)).toMatchObject({ state: 'SUCCESS', attempts: 1 });
  // The one the victim had reserved (its reply cut) went back to READY after ttr, same job id.
  expect(bySn.get(sns[VICTIM]!)!.requeues).toBeGreaterThanOrEqual(1);
  for (const b of boots) expect(runsOf(b.stateDir)).toBe(1);
}

beforeAll(async () => {
  pg = await startPostgres({ database: 'aspire_failover' });
  ca = makeTestCa();
  work = mkdtempSync(join(tmpdir(), 'aspire-failover-'));
  // Every node signs with the same key (docs/security.md): the agents pin one key whichever node answers.
  const keyFile = join(work, 'signing-key.pem');
  writeFileSync(keyFile, generateSigningKeyPem(), { mode: 0o600 });
  for (let i = 1; i <= 3; i++)
    nodes.push(
      await startAspire({
        hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile },
        env: { ...process.env, ASPIRE_DATABASE_URL: pg.urlWithPassword },
        config: {
          enrollSecret: ENROLL,
          signingKeys: [keyFile],
          // Heartbeat 1 s: a node is lost after 3 s, past the event-loop stalls of a loaded test machine.
          cluster: { nodeId: `node-${i}`, heartbeatMs: 1000, redirectMargin: 0 },
        },
      }),
    );
  await waitUntil(async () => (await clusterNodes(nodes[0]!)).placement.length === 3 || undefined, {
    timeoutMs: 30_000,
    what: 'node 1 sees three live nodes',
  });
  proxy = await startSwallowingProxy(nodes[VICTIM]!.url);
  const bootServers = nodes.map((n, i) => (i === VICTIM ? proxy.url : n.url));

  // The sub-agent the task installs: each start appends "<its home> <pid>" to one file.
  runsFile = join(work, 'runs.log');
  const stage = join(work, 'pkg');
  mkdirSync(stage);
  writeFileSync(join(stage, 'agent.sh'), `echo "$ASPIRE_AGENT_HOME $$" >> '${runsFile}'\nexec sleep 100000\n`);
  writeFileSync(
    join(stage, 'agent.json'),
    JSON.stringify({ name: 'RunOnce', version: '1.0.0', start: ['/bin/sh', 'agent.sh'], stop: 'kill:SIGTERM' }),
  );
  const tarball = join(work, 'RunOnce-1.0.0.tar.gz');
  await tar.c({ gzip: true, file: tarball, cwd: stage, portable: true }, ['agent.json', 'agent.sh']);
  pkg = await startPackageServer();
  pkg.put('/RunOnce-1.0.0.tar.gz', readFileSync(tarball));
  checksum = `SHA256:${createHash('sha256').update(readFileSync(tarball)).digest('hex')}`;

  for (const [i, hostname] of HOSTS.entries()) {
    // Host i's place in the server list is node i (chosen through the agentsn it proposes at its
    // first registration), so the pushes spread one host per node and host 2's go to the victim.
    const sn = agentsnPreferring(i, 3, hostname);
    const stateDir = mkdtempSync(join(tmpdir(), 'aspire-failover-boot-'));
    writeFileSync(
      join(stateDir, 'meta.json'),
      JSON.stringify({ version: 1, agentsn: sn, servers: [], pushedServers: [], step: 1, trusted: false }),
    );
    const boot = await startBoot({
      stateDir,
      enrollSecret: ENROLL,
      step: 1,
      // Generous: a push timed out under load would send host 2 away from the victim before the kill.
      config: { servers: bootServers, hostname, httpTimeoutSec: 30 },
    });
    boots.push(boot);
    await waitUntil(() => boot.readMeta()?.trusted && existsSync(join(stateDir, 'identity', 'host.crt')), {
      timeoutMs: 60_000,
      what: `${hostname}'s BootAgent registered with a certificate`,
    });
    expect(boot.readMeta()!.agentsn).toBe(sn);
    sns.push(sn);
  }
  const entry = nodes[0]!.hubAddress!.port;
  for (const [k, hostname] of HOSTS.entries()) {
    const stateDir = boots[k]!.stateDir;
    agents.push(
      await startBasicAgent({
        port: entry,
        caFile: ca.caCertFile,
        hostname,
        agentsn: sns[k]!,
        identity: { certFile: join(stateDir, 'identity', 'host.crt'), keyFile: join(stateDir, 'identity', 'host.key') },
        config: { bootMetafile: join(stateDir, 'meta.json') },
      }),
    );
    // Node 1 places the next agent by what is connected, as its heartbeat rows say.
    await waitUntilPlacementCounts(nodes[0]!, k + 1, 3);
  }
}, 240_000);

afterAll(async () => {
  const pids = existsSync(runsFile ?? '')
    ? readFileSync(runsFile, 'utf8')
        .split('\n')
        .map((l) => Number(l.split(' ')[1]))
        .filter((p) => p > 0)
    : [];
  for (const a of agents) await a.stop().catch(() => {});
  for (const b of boots) {
    await b.stop().catch(() => {});
    b.cleanup();
  }
  for (const pid of pids)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  for (const n of nodes) await n.stop().catch(() => {});
  await proxy?.close();
  await pkg?.close();
  ca?.cleanup();
  await pg?.stop();
});

describe('kill -9 of a node in the middle of a fan-out and a tag task (three nodes, one PostgreSQL)', () => {
  it('spreads the BasicAgents one per node and the BootAgents status pushes over all three nodes', async () => {
    const where = await Promise.all(nodes.map(localAgents));
    expect(where.map((w) => w.length)).toEqual([1, 1, 1]);
    const before = await Promise.all(nodes.map(pushesAnswered));
    await waitUntil(
      async () => {
        const now = await Promise.all(nodes.map(pushesAnswered));
        return now.every((c, i) => c >= before[i]! + 3) || undefined;
      },
      { timeoutMs: 30_000, what: 'every node answers status pushes' },
    );
  });

  it('survives the kill: in-flight command failed CHANNEL_NODE_LOST, agents back on the others, each subtask run once', async () => {
    const victim = nodes[VICTIM]!;
    const release = join(work, 'release');
    // 1. A fan-out through node 1 to all three hosts, held until the test releases it.
    const fanOut = (await heldFanOut(release)).answer;
    const onVictim = (await localAgents(victim))[0]!.hostname;

    // 2. A TAG task with batch and retry; the victim dies as its reply with a job leaves it.
    //    First, host 2's pushes are seen going to the victim now (not sent elsewhere after a
    //    failure slowed by load).
    const through = proxy.statusAnswered();
    await waitUntil(() => proxy.statusAnswered() >= through + 2, {
      // A server that failed is tried last for 60 s (net/server-choice.ts); then host 2 is back.
      timeoutMs: 90_000,
      what: "host 2's pushes answered through the victim",
    });
    // What the store holds before the kill (hosts, events, audit of the setup and the fan-out).
    const beforeKill = await dbSnapshot();
    let killedAt = 0;
    const killed = new Promise<string>((resolve) =>
      proxy.arm((sn) => {
        victim.child.kill('SIGKILL');
        killedAt = Date.now();
        resolve(sn);
      }),
    );
    const taskId = await createTagTask();
    // The held reply was host 2's (its BootAgent pushes to the victim first).
    expect(await withDeadline(killed, 90_000, () => taskState(taskId))).toBe(sns[VICTIM]);
    await victim.child.exited;
    // And as the victim died (its committed rows are all in; the survivors have not yet seen it
    // lost): the tag task and its subtasks, one of them RESERVED by the reply that was cut.
    const atKill = await dbSnapshot();
    expect([...atKill.subtasks.values()].filter((v) => v.startsWith(`${taskId} `))).toHaveLength(3);
    expect([...atKill.subtasks.values()]).toContain(`${taskId} ${sns[VICTIM]} RESERVED`);

    // 3. The command in flight on the lost node is answered failed with a clear code; the others finish.
    await waitUntil(
      async () => (await clusterNodes(nodes[0]!)).nodes.every((n) => n.nodeId !== `node-${VICTIM + 1}`) || undefined,
      { timeoutMs: 20_000, what: 'node 1 sees the victim lost' },
    );
    writeFileSync(release, '');
    const answered = await fanOut;
    expect(answered.status).toBe(200);
    for (const e of answered.body.response as { host: string; resp: string; retcode: number; data?: string }[]) {
      if (e.host === onVictim) expect(e).toMatchObject({ resp: 'failed', retcode: ErrorCode.CHANNEL_NODE_LOST });
      else expect(e).toMatchObject({ resp: 'success', retcode: 0, data: 'released\n' });
    }

    // 4. Its BasicAgent is back on one of the two others within 30 s.
    const survivors = nodes.filter((_, i) => i !== VICTIM);
    await waitUntil(
      async () =>
        (await Promise.all(survivors.map(localAgents))).flat().some((a) => a.hostname === onVictim) || undefined,
      { timeoutMs: 30_000, what: `${onVictim} reconnected to a surviving node` },
    );
    expect(Date.now() - killedAt).toBeLessThan(30_000);

    // 5. Every subtask SUCCESS and run exactly once; the victim's went back to READY after its ttr.
    await expectEachRanOnce(taskId);

    // 6. Host 2's BootAgent failed over: its pushes to the victim failed and the host stayed online
    //    through the next server of its list.
    expect(
      boots[VICTIM]!.logLines().some((l) => /status push to .* failed/.test(String(l.msg)) && l.server === proxy.url),
    ).toBe(true);
    const host = await nodes[2]!.api('GET', `/api/v1/server/agent?agentsn=${sns[VICTIM]}`);
    expect(host.body.host).toMatchObject({ status: 'online' });

    // 7. Nothing in the database was lost: no table has fewer rows than before the kill, every
    //    subtask is still there (the task's three all SUCCESS, checked above), every host is
    //    there, and both survivors answer for all.
    const afterRun = await dbSnapshot();
    expectNothingLost(beforeKill, afterRun);
    expectNothingLost(atKill, afterRun);
    expect(afterRun.counts.tasks).toBeGreaterThan(beforeKill.counts.tasks);
    for (const n of survivors) {
      for (const sn of sns) expect((await n.api('GET', `/api/v1/server/agent?agentsn=${sn}`)).status).toBe(200);
      const again = await n.api('POST', '/api/v1/server/polaris', {
        hosts: HOSTS,
        method: 'sync.bash',
        cmd: 'echo back',
        timeout: 20,
      });
      for (const e of again.body.response) expect(e).toMatchObject({ resp: 'success', data: 'back\n' });
    }
  }, 240_000);
});
