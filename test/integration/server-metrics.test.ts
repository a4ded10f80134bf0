// GET /metrics on the real server with a real BootAgent pushing: scraped with the scrape token and
// with a viewer token, parsed with a Prometheus text parser, values asserted (host online, pushes
// counted, the BootAgent's self-report aggregated, a subtask counted by state).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PromMetrics, startAspire, startBoot, waitUntil, type AspireHandle, type BootHandle } from '@aspire/testing';

const METRICS_TOKEN = randomBytes(24).toString('hex');
let srv: AspireHandle;
let boot: BootHandle;
let agentsn: string;

async function scrape(token: string | undefined): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${srv.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

async function metrics(): Promise<PromMetrics> {
  const r = await scrape(METRICS_TOKEN);
  expect(r.status).toBe(200);
  return new PromMetrics(r.text);
}

beforeAll(async () => {
  srv = await startAspire({ config: { metricsToken: METRICS_TOKEN } });
  boot = await startBoot({ serverUrl: srv.url, enrollSecret: srv.enrollSecret, step: 1 });
  agentsn = (
    await waitUntil(() => (boot.readMeta()?.trusted ? boot.readMeta() : undefined), {
      timeoutMs: 30_000,
      what: 'boot registered and trusted',
    })
  ).agentsn;
});

afterAll(async () => {
  await boot?.stop().catch(() => {});
  boot?.cleanup();
  await srv?.stop();
});

describe('GET /metrics', () => {
  it('is not public: no token 401, a wrong one 401; the scrape token is worth nothing on the operator API', async () => {
    expect((await scrape(undefined)).status).toBe(401);
    expect((await scrape('not-the-token-0000000000')).status).toBe(401);
    expect((await srv.api('GET', '/api/v1/server/host', undefined, { token: METRICS_TOKEN })).status).toBe(401);
  });

  it('with a real BootAgent pushing: one host online, pushes counted and timed, its self-report in the fleet aggregates', async () => {
    const r = await scrape(METRICS_TOKEN);
    expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = await waitUntil(
      async () => {
        const p = await metrics();
        return p.value('aspire_hosts', { status: 'online' }) === 1 && p.value('aspire_fleet_boot_reporting_hosts') === 1
          ? p
          : undefined;
      },
      { timeoutMs: 30_000, what: 'the host online and its self-report in /metrics' },
    );
    expect(m.value('aspire_hosts', { status: 'offline' })).toBe(0);
    const pushes = m.value('aspire_status_pushes_total');
    expect(pushes).toBeGreaterThan(0);
    expect(m.family('aspire_status_pushes_total').type).toBe('COUNTER');
    expect(m.count('aspire_status_push_duration_seconds')).toBeGreaterThan(0);
    expect(m.count('aspire_store_operation_duration_seconds', { operation: 'ingestStatus' })).toBeGreaterThan(0);
    // The BootAgent is a real Node process: tens of MB resident, some CPU used, an empty job queue.
    const rss = m.value('aspire_fleet_boot_rss_bytes', { aggregate: 'sum' });
    expect(rss).toBeGreaterThan(10 * 1024 * 1024);
    expect(m.value('aspire_fleet_boot_rss_bytes', { aggregate: 'max' })).toBe(rss);
    expect(m.value('aspire_fleet_boot_cpu_seconds', { aggregate: 'sum' })).toBeGreaterThan(0);
    expect(m.value('aspire_fleet_boot_queue_length', { queue: 'jobs', aggregate: 'max' })).toBeGreaterThanOrEqual(0);
    expect(m.value('aspire_hub_connections')).toBe(0);
    expect(m.family('aspire_fanout_duration_seconds').type).toBe('HISTOGRAM');
    // prom-client's default process metrics of the server itself.
    expect(m.value('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(m.value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    // A counter: the next pushes raise it.
    await waitUntil(async () => ((await metrics()).value('aspire_status_pushes_total') > pushes ? true : undefined), {
      timeoutMs: 20_000,
      what: 'more pushes counted',
    });
  });

  it('subtasks are counted by state; a viewer token may scrape', async () => {
    const created = await srv.api('POST', '/api/v1/server/task', {
      command: 'config',
      agents: [agentsn],
      parameters: { step: 1 },
    });
    expect(created.status).toBe(200);
    await waitUntil(
      async () => ((await metrics()).value('aspire_subtasks', { state: 'SUCCESS' }) >= 1 ? true : undefined),
      { timeoutMs: 30_000, what: 'the config subtask counted SUCCESS' },
    );
    const viewer = await srv.createToken('scraper', ['--role', 'viewer']);
    const r = await scrape(viewer);
    expect(r.status).toBe(200);
    expect(new PromMetrics(r.text).value('aspire_subtasks', { state: 'SUCCESS' })).toBeGreaterThanOrEqual(1);
  });
});
