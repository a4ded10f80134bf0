// One database per server: the command hub's periodic-task results go into the server's own
// aspire.db (no second SQLite file), bounded by the server config's taskResultsKeep, and they
// are still served after a server restart. Real server, real BasicAgent, real TLS.
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  makeTestCa,
  startAspire,
  startBasicAgent,
  waitUntil,
  type AspireHandle,
  type BasicAgentHandle,
  type TestCa,
} from '@aspire/testing';

let ca: TestCa;
let srv: AspireHandle;
let agent: BasicAgentHandle;
const HOST = 'results-host';
const KEEP = 3;

const results = async (): Promise<{ name: string; output: string; started: number }[]> => {
  const r = await srv.api('GET', `/api/v1/server/polaris/task-results?host=${HOST}&name=crontab:1&limit=1000`);
  expect(r.status).toBe(200);
  return r.body.items;
};

beforeAll(async () => {
  ca = makeTestCa();
  srv = await startAspire({
    hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile },
    config: { taskResultsKeep: KEEP },
  });
  agent = await startBasicAgent({
    port: srv.hubAddress!.port,
    caFile: ca.caCertFile,
    hostname: HOST,
    crontab: '* * * * * * root echo run-$(date +%s%N)',
  });
});
afterAll(async () => {
  await agent?.stop();
  await srv?.stop();
  ca?.cleanup();
});

it('results land in aspire.db, bounded per host and task, and survive a server restart', async () => {
  // One run a second: after KEEP + 3 runs only the newest KEEP remain.
  const seen = new Set<string>();
  await waitUntil(
    async () => {
      for (const r of await results()) seen.add(r.output);
      return seen.size >= KEEP + 3;
    },
    { timeoutMs: 30_000, what: `${KEEP + 3} runs of the every-second task` },
  );
  const kept = await results();
  expect(kept.length).toBe(KEEP);
  expect(kept.every((r) => r.output.startsWith('run-'))).toBe(true);
  const starts = kept.map((r) => r.started);
  expect([...starts].sort((a, b) => a - b)).toEqual(starts);

  // Nothing but the one database (and its WAL files), the pidfile, the test's config file, package
  // storage and the job/frame signing key (docs/security.md).
  const files = readdirSync(srv.dataDir).filter(
    (f) => !/^aspire\.(db|db-wal|db-shm|pid|json)$/.test(f) && f !== 'packages' && f !== 'signing-key.pem',
  );
  expect(files).toEqual([]);

  await agent.stop();
  const before = await results();
  await srv.restart();
  // Served from the store right after the restart, with no agent connected.
  expect(await results()).toEqual(before);
});
