// The console with 100,000 hosts: the real `aspire` server with its SQLite database holding a
// fleet that size (rows written straight into the hosts table: registering 100,000 agents over
// HTTP would take minutes), driven in Chromium. Paging is server-side, so the last page, a
// prefix search and a status filter answer like the first page does.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, startAspire, waitUntil, type AspireHandle } from '@aspire/testing';

const ARTIFACTS = join(repoRoot(), 'test-artifacts', 'console');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const HOSTS = 100_000;
/** Every 7th host is offline. */
const OFFLINE = Math.floor((HOSTS - 1) / 7) + 1;

let srv: AspireHandle;
let browser: Browser;
let page: Page;

/** Write the fleet into the running server's database in one transaction (WAL: the server keeps serving). */
function seedHosts(dbFile: string, n: number): void {
  const db = new DatabaseSync(dbFile);
  try {
    db.exec('PRAGMA busy_timeout = 10000');
    const now = Date.now();
    const insert = db.prepare(
      `INSERT INTO hosts(agentsn, hostname, ipaddr, region, status, step, os, arch, curvers, agents, reported_tags, credential_hash, last_seen, gmt_create, gmt_modify)
       VALUES (?, ?, ?, 0, ?, 600, 'linux', ?, '1.0.0', ?, '', 'seeded', ?, ?, ?)`,
    );
    const agents = JSON.stringify([{ name: 'BasicAgent', version: '1.0.0', status: 'running' }]);
    db.exec('BEGIN');
    for (let i = 0; i < n; i++) {
      const sn = `scale-${String(i).padStart(6, '0')}`;
      insert.run(
        sn,
        `host-${i}`,
        `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        i % 7 === 0 ? 'offline' : 'online',
        i % 3 ? 'x86_64' : 'aarch64',
        agents,
        now,
        now - i,
        now - i,
      );
    }
    db.exec('COMMIT');
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const launching = chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  launching.catch(() => {}); // awaited below; no unhandled rejection while the server starts
  // No agents here: a long offline sweep so the seeded "online" hosts stay as written; the
  // statistics over 100,000 hosts every 2 s rather than the test default's 0.5 s.
  srv = await startAspire({ config: { offlineSweepSec: 3600, dashboardIntervalSec: 2 } });
  seedHosts(join(srv.dataDir, 'aspire.db'), HOSTS);
  browser = await launching;
  page = await (await browser.newContext({ locale: 'en-US', viewport: { width: 1360, height: 900 } })).newPage();
  await page.goto(srv.url);
  await page.getByLabel('Operator token').fill(srv.token);
  await page.getByRole('button', { name: 'Log in' }).click();
});

afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

const pagerStatus = () => page.getByRole('navigation', { name: 'Hosts pages' }).getByRole('status');
async function waitText(loc: ReturnType<Page['locator']>, ok: (t: string) => boolean, what: string): Promise<string> {
  return waitUntil(
    async () => {
      const t = ((await loc.textContent()) ?? '').trim();
      return ok(t) ? t : undefined;
    },
    { timeoutMs: 30_000, what },
  );
}

describe('console with 100,000 hosts', () => {
  it('the dashboard counts them', async () => {
    await waitText(
      page.getByRole('group', { name: 'Hosts total' }),
      (t) => t.startsWith('100,000'),
      'hosts total 100,000',
    );
    expect(await page.getByRole('group', { name: 'Hosts offline' }).textContent()).toMatch(
      new RegExp(`^${OFFLINE.toLocaleString('en-US')}`),
    );
  });

  it('Hosts pages through them on the server: first, last, search, filter', async () => {
    await page.getByRole('tab', { name: 'Hosts' }).click();
    await waitText(pagerStatus(), (t) => t === '1–50 of 100,000', 'first page');
    expect(await page.getByRole('table', { name: 'Hosts' }).getByRole('row').count()).toBe(51);

    await page.getByRole('button', { name: 'Last page' }).click();
    await waitText(pagerStatus(), (t) => t === '99,951–100,000 of 100,000', 'last page');
    await page.getByRole('row').filter({ hasText: 'host-99999' }).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'hosts-100k.png'), fullPage: false });

    // Prefix search: host-9999 and host-99990..host-99999.
    await page.getByRole('searchbox', { name: 'Search' }).fill('host-9999');
    await waitText(pagerStatus(), (t) => t === '1–11 of 11', 'prefix search');

    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByRole('combobox', { name: 'Status' }).selectOption('offline');
    await waitText(pagerStatus(), (t) => t === `1–50 of ${OFFLINE.toLocaleString('en-US')}`, 'offline filter');
  });

  it('a host marked deleted leaves the list and shows under status deleted', async () => {
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByRole('searchbox', { name: 'Search' }).fill('host-99999');
    await waitText(pagerStatus(), (t) => t === '1–1 of 1', 'the one host');
    await page.getByRole('button', { name: 'Details of host-99999' }).click();
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Mark host-99999 deleted' }).click();
    await waitText(pagerStatus(), (t) => t === '0–0 of 0', 'gone from the list');
    await page.getByRole('combobox', { name: 'Status' }).selectOption('deleted');
    await waitText(pagerStatus(), (t) => t === '1–1 of 1', 'listed as deleted');
    expect(
      await page.getByRole('table', { name: 'Hosts' }).getByRole('row').filter({ hasText: 'host-99999' }).textContent(),
    ).toContain('deleted');
  });

  it('a task over 600 hosts lists one state at a time, with the count of each', async () => {
    const agents = Array.from({ length: 600 }, (_, i) => `scale-${String(i + 1).padStart(6, '0')}`);
    const created = await srv.api('POST', '/api/v1/server/task', {
      command: 'restart',
      agents,
      parameters: { name: 'BasicAgent' },
    });
    expect(created.body.status, JSON.stringify(created.body)).toBe(0);
    await page.getByRole('tab', { name: 'Agent versions' }).click();
    await page.getByRole('button', { name: `Follow task ${created.body.id}` }).click();
    const show = page.getByRole('combobox', { name: 'Show subtasks' });
    await waitUntil(async () => (await show.inputValue()) === 'FAILED', {
      timeoutMs: 20_000,
      what: 'large task lists FAILED first',
    });
    // None of these hosts pushes, so nothing failed yet and every subtask waits for its host.
    const states = page.getByRole('list', { name: `Subtask states of task ${created.body.id}` });
    await waitText(states, (t) => /600/.test(t.replace(/,/g, '')), 'per-state counts add up to 600');
    const rows = page.getByRole('table', { name: `Subtasks of task ${created.body.id}` }).getByRole('row');
    await waitUntil(async () => (await rows.count()) === 1, {
      timeoutMs: 20_000,
      what: 'only the header row (no FAILED subtask)',
    });
    await show.selectOption('');
    await waitUntil(async () => (await rows.count()) === 601, { timeoutMs: 20_000, what: 'all 600 listed on demand' });
  });
});
