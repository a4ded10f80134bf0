// The console's operator pages in Debian's Chromium (playwright-core), against the real `aspire`
// server with its command hub, a real `boot` (a sub-agent installed with limits) and a real
// BasicAgent on the same host identity: the host page (facts, sub-agents with state and limits,
// the task that touched it, events, the inventory from getinfo collectors and its refresh), the
// Run page (a command on chosen hosts and by tag selector, one host failing, results per host),
// the Tasks page (list, filter, open a task with its subtasks, kick; a failed subtask retried, a
// dependent task's rollout settings), the Audit page, and the
// hosts table at 420 px wide. Screenshots go to test-artifacts/console/.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { arch, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ErrorCode } from '@aspire/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeTestCa,
  repoRoot,
  startAspire,
  startBasicAgent,
  startBoot,
  waitUntil,
  type AspireHandle,
  type BasicAgentHandle,
  type BootHandle,
} from '@aspire/testing';
import { packFixture } from '../../packages/testing/fixtures/pack-fixture.ts';

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
const HOST = 'web-ops-1';
const AGENT = 'OpsAgent';
const SUPERVISION = {
  checkIntervalSec: 0.2,
  restartHoldSec: 1,
  strikeWindowSec: 30,
  maxStrikes: 3,
  stopTimeoutSec: 2,
  upgradeHealthySec: 1,
  watchdogIntervalSec: 0.5,
};

let srv: AspireHandle;
let boot: BootHandle;
let agent: BasicAgentHandle;
let browser: Browser;
let page: Page;
let work: string;
let agentsn: string;
let taskId: number;
const pageErrors: string[] = [];

const identity = (stateDir: string) => ({
  certFile: join(stateDir, 'identity', 'host.crt'),
  keyFile: join(stateDir, 'identity', 'host.key'),
});

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'aspire-console-ops-'));
  const launching = chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  launching.catch(() => {});
  const ca = makeTestCa();
  srv = await startAspire({ hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile } });
  boot = await startBoot({
    serverUrl: srv.url,
    enrollSecret: srv.enrollSecret,
    step: 0.5,
    config: { hostname: HOST, tags: 'svc=web', supervision: SUPERVISION },
  });
  await waitUntil(() => boot.readMeta()?.trusted === true && existsSync(identity(boot.stateDir).certFile), {
    timeoutMs: 30_000,
    what: 'boot trusted with a host certificate',
  });
  agentsn = boot.readMeta()!.agentsn;
  agent = await startBasicAgent({
    port: srv.hubAddress!.port,
    caFile: ca.caCertFile,
    hostname: HOST,
    identity: identity(boot.stateDir),
    config: { bootMetafile: join(boot.stateDir, 'meta.json') },
  });
  // A sub-agent with limits, installed by a task: the host page lists it, the task touched the host.
  const pkg = await packFixture({ fixture: 'idle-agent', name: AGENT, version: '1.0.0', outDir: work });
  const fd = new FormData();
  for (const [k, v] of Object.entries({
    name: AGENT,
    version: '1.0.0',
    os: 'linux',
    arch: arch() === 'arm64' ? 'aarch64' : 'x86_64',
  }))
    fd.append(k, v);
  fd.append('file', new Blob([readFileSync(pkg.file)]), basename(pkg.file));
  const up = await fetch(`${srv.url}/api/v1/server/package`, {
    method: 'POST',
    headers: { authorization: `Bearer ${srv.token}` },
    body: fd,
  });
  expect(up.status).toBe(200);
  const created = await srv.api('POST', '/api/v1/server/task', {
    command: 'install',
    agents: [agentsn],
    parameters: { name: AGENT, version: '1.0.0', limits: { memory: '512M' } },
  });
  expect(created.status).toBe(200);
  taskId = created.body.id;
  await waitUntil(
    async () => {
      const h = (await srv.api('GET', `/api/v1/server/agent?agentsn=${agentsn}`)).body.host;
      return (
        h?.status === 'online' &&
        h.agents.some((a: { name: string; status: string }) => a.name === AGENT && a.status === 'running')
      );
    },
    { timeoutMs: 60_000, what: `${AGENT} running on the host` },
  );
  browser = await launching;
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1360, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text());
  });
  await page.goto(srv.url);
  await page.getByLabel('Operator token').fill(srv.token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('tab', { name: 'Dashboard', selected: true }).waitFor();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await agent?.stop();
  await boot?.stop();
  if (boot) for (const pid of processesUnder(boot.stateDir)) killGroup(pid);
  boot?.cleanup();
  await srv?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/cwd`).startsWith(`${dir}/`)) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

function killGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
const text = async (loc: ReturnType<Page['locator']>) => ((await loc.textContent()) ?? '').trim();
async function waitText(
  loc: ReturnType<Page['locator']>,
  ok: (t: string) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<string> {
  return waitUntil(
    async () => {
      const t = await text(loc);
      return ok(t) ? t : undefined;
    },
    { timeoutMs, what },
  );
}

describe('console: operate', () => {
  it('host page: facts, sub-agents with state and limits, the task that touched it, events, inventory and its refresh', async () => {
    await page.getByRole('tab', { name: 'Hosts' }).click();
    await page.getByRole('link', { name: `Open host ${HOST}` }).click();
    await page.getByRole('heading', { name: new RegExp(`^Host ${HOST}`) }).waitFor();
    expect(page.url()).toContain(`#/hosts/${agentsn}`);
    expect(await text(page.getByRole('region', { name: 'Host facts' }))).toContain(agentsn);
    const sub = page.getByRole('table', { name: 'Sub-agents' }).getByRole('row').filter({ hasText: AGENT });
    await waitText(sub, (t) => t.includes('running') && t.includes('memory 512M'), 'sub-agent running with its limits');
    const touched = page
      .getByRole('table', { name: 'Tasks that touched it' })
      .getByRole('row')
      .filter({ hasText: `#${taskId}` });
    await waitText(touched, (t) => t.includes('install') && t.includes('SUCCESS'), 'the install task listed');
    await waitText(
      page.getByRole('table', { name: 'Recent events' }),
      (t) => t.includes(AGENT),
      'events of the sub-agent',
    );
    // Inventory from the BasicAgent's collectors (os, cpu, memory, ...), asked when the page opened.
    const os = page.getByRole('table', { name: 'os' });
    await waitText(os, (t) => /name/i.test(t), 'getinfo.os answered', 45_000);
    await waitText(page.getByRole('table', { name: 'memory' }), (t) => t.length > 0, 'getinfo.memory answered');
    const asked = await text(page.getByRole('region', { name: 'Inventory' }).locator('time'));
    await page.getByRole('button', { name: 'Refresh inventory' }).click();
    await page.getByRole('button', { name: 'Refresh inventory' }).waitFor({ state: 'visible' });
    await waitUntil(
      async () =>
        (await page.getByRole('button', { name: 'Refresh inventory' }).isEnabled()) &&
        (await text(page.getByRole('region', { name: 'Inventory' }).locator('time'))) !== asked
          ? true
          : undefined,
      {
        timeoutMs: 45_000,
        what: 'inventory asked again',
      },
    ).catch(async () => {
      // Same second on a fast machine: the refresh still ran (the audit page shows the calls).
      expect(await page.getByRole('button', { name: 'Refresh inventory' }).isEnabled()).toBe(true);
    });
    await shot('host-page');
  });

  it('Run: a command on a chosen host and by tag selector; results per host, a missing host fails', async () => {
    await page.getByRole('tab', { name: 'Run' }).click();
    await page.getByRole('searchbox', { name: 'Find hosts' }).fill(HOST);
    await page.getByRole('checkbox', { name: new RegExp(HOST) }).check();
    await page
      .getByRole('textbox', { name: 'Command' })
      .fill('echo hello-from-$(hostname -s 2>/dev/null || echo x); id -un');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const results = page.getByRole('table', { name: 'Results' });
    const row = results.getByRole('row').filter({ hasText: agentsn });
    await waitText(
      row,
      (t) => t.includes('SUCCESS') && t.includes('exit 0') && t.includes('hello-from-') && t.includes('root'),
      'the host answered',
      45_000,
    );
    await waitText(
      page.getByRole('status').filter({ hasText: 'succeeded' }),
      (t) => t.includes('1 host: 1 succeeded, 0 failed'),
      'summary',
    );
    await shot('run-hosts');

    // By tag selector: the host has svc=web; a command that exits 3 is a failure with its exit status.
    await page.getByRole('radio', { name: 'Hosts with a tag' }).check();
    await page.getByRole('textbox', { name: 'Tag selector' }).fill('svc=web');
    await page.getByRole('textbox', { name: 'Command' }).fill('echo by-tag; exit 3');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await waitText(
      row,
      (t) => t.includes('FAILED') && t.includes('exit 3') && t.includes('by-tag'),
      'tag run answered',
      45_000,
    );
    await page.getByRole('textbox', { name: 'Tag selector' }).fill('svc=nobody');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await waitText(
      page.getByRole('alert'),
      (t) => t.includes('no host has the tag svc=nobody'),
      'empty selector refused',
    );
    await shot('run-tag');
  });

  it('Tasks: list, filter, open a task with its subtasks, kick', async () => {
    await page.getByRole('tab', { name: 'Tasks' }).click();
    const table = page.getByRole('table', { name: 'Tasks' });
    const row = table.getByRole('row').filter({ hasText: `#${taskId}` });
    await waitText(row, (t) => t.includes('install') && t.includes('1 / 1'), 'the task listed');
    await page.getByRole('textbox', { name: 'Command' }).fill('config');
    await table.getByText('No tasks match.').waitFor();
    await page.getByRole('textbox', { name: 'Command' }).fill('install');
    await row.waitFor();
    await row.getByRole('link', { name: `Open task ${taskId}` }).click();
    const details = page.getByRole('region', { name: `Task ${taskId} details` });
    await waitText(details, (t) => t.includes('parameters') && t.includes(AGENT), 'task fields shown');
    const subtasks = page.getByRole('table', { name: `Subtasks of task ${taskId}` });
    await waitText(subtasks, (t) => t.includes(agentsn) && t.includes('SUCCESS'), 'subtask SUCCESS');
    // Issue 13: the task view shows the rollout settings; a final subtask offers no per-subtask action.
    await waitText(
      page.getByLabel(`Rollout settings of task ${taskId}`),
      (t) => t.includes('priority 1024') && t.includes('max_errors 0'),
      'rollout settings shown',
    );
    expect(await subtasks.getByRole('button', { name: `revoke ${agentsn}` }).count()).toBe(0);
    await page.getByRole('button', { name: `Kick task ${taskId}` }).click();
    await waitText(details.getByRole('status'), (t) => /Kicked 0 subtask/.test(t), 'kick answered');
    await shot('tasks');
  });

  it('Tasks (issue 13): a failed subtask retried from the task view runs again; a dependent task shows priority, start_at, max_errors, dependencies and is retried too', async () => {
    // A package source that answers 404 until the test lets it serve: the first install fails.
    const late = await packFixture({ fixture: 'idle-agent', name: 'LateOps', version: '1.0.0', outDir: work });
    let serving = false;
    const source = createServer((_q, res) => {
      if (!serving) {
        res.statusCode = 404;
        res.end('not yet');
        return;
      }
      res.end(readFileSync(late.file));
    });
    await new Promise<void>((r) => source.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(source.address() as AddressInfo).port}/LateOps-1.0.0.tar.gz`;
      const first = await srv.api('POST', '/api/v1/server/task', {
        command: 'install',
        agents: [agentsn],
        parameters: { name: 'LateOps', version: '1.0.0', url, checksum: late.checksum },
      });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      const a = first.body.id as number;
      await waitUntil(
        async () => (await srv.api('GET', `/api/v1/server/task?id=${a}`)).body.task?.status === 'HALTED' || undefined,
        { timeoutMs: 45_000, what: 'the first install failed (task halted)' },
      );
      const startAt = new Date(Date.now() + 1000).toISOString();
      const second = await srv.api('POST', '/api/v1/server/task', {
        command: 'restart',
        agents: [agentsn],
        after: [a],
        priority: 7,
        max_errors: '50%',
        start_at: startAt,
        parameters: { name: 'LateOps' },
      });
      expect(second.status, JSON.stringify(second.body)).toBe(200);
      const b = second.body.id as number;
      await waitUntil(
        async () =>
          (await srv.api('GET', `/api/v1/server/task?id=${b}`)).body.subtasks?.[0]?.errcode ===
            ErrorCode.TASK_DEPENDENCY_FAILED || undefined,
        { timeoutMs: 30_000, what: 'the dependent subtask failed with its own code' },
      );
      serving = true;

      // Task A: its FAILED subtask offers retry; retried, it runs again and succeeds, followed live.
      await page.goto(`${srv.url}/#/tasks/${a}`);
      const subsA = page.getByRole('table', { name: `Subtasks of task ${a}` });
      await waitText(subsA, (t) => t.includes('FAILED'), 'the failed install shown');
      await subsA.getByRole('button', { name: `retry ${agentsn}` }).click();
      await waitText(
        page.getByRole('status').filter({ hasText: 'Retried' }),
        (t) => t.includes(`Retried the subtask of ${agentsn}: now READY`),
        'retry answered',
      );
      await waitText(subsA, (t) => t.includes('SUCCESS'), 'the retried install succeeded', 45_000);
      // The whole task: nothing failed is left, so nothing is retried.
      page.once('dialog', (d) => void d.accept());
      await page.getByRole('button', { name: `Retry task ${a}` }).click();
      await waitText(
        page.getByRole('region', { name: `Task ${a} details` }).getByRole('status'),
        (t) => t.includes('Retried 0 subtask(s).'),
        'task retry answered',
      );

      // Task B: its settings; its dependency failed, retried now that A succeeded on the host.
      await page.goto(`${srv.url}/#/tasks/${b}`);
      const settings = await waitText(
        page.getByLabel(`Rollout settings of task ${b}`),
        (t) => t.includes('priority 7') && t.includes('max_errors 50%') && t.includes(`after #${a}`),
        'settings of the dependent task',
      );
      expect(settings).toContain('starts');
      expect(await page.getByLabel(`Rollout settings of task ${b}`).locator('time').getAttribute('title')).toContain(
        startAt.slice(0, 16),
      );
      const subsB = page.getByRole('table', { name: `Subtasks of task ${b}` });
      await waitText(subsB, (t) => t.includes('FAILED') && t.includes('0x0407'), 'dependency failure shown');
      await subsB.getByRole('button', { name: `retry ${agentsn}` }).click();
      await waitText(subsB, (t) => t.includes('SUCCESS'), 'the dependent restart ran', 45_000);
      await shot('task-retry');
    } finally {
      source.close();
    }
  }, 240_000);

  it('Audit: the Run and inventory calls are in the log with their token, command and user', async () => {
    await page.getByRole('tab', { name: 'Audit' }).click();
    const table = page.getByRole('table', { name: 'Audit log' });
    await waitText(
      table,
      (t) => t.includes('/api/v1/server/polaris') && t.includes('echo by-tag; exit 3'),
      'the run in the audit log',
    );
    await page.getByRole('textbox', { name: 'Route' }).fill('/api/v1/server/task/kick');
    await waitText(
      table,
      (t) => t.includes('/api/v1/server/task/kick') && !t.includes('/polaris'),
      'filtered by route',
    );
    await shot('audit');
  });

  it('the hosts table stays usable at 420 px: key columns visible, no page-wide sideways scroll', async () => {
    await page.setViewportSize({ width: 420, height: 800 });
    await page.getByRole('tab', { name: 'Hosts' }).click();
    const table = page.getByRole('table', { name: 'Hosts' });
    const row = table.getByRole('row').filter({ hasText: agentsn });
    await waitText(row, (t) => t.includes('online'), 'host row at 420 px');
    // Sort headers are named by their button ("Sort by OS"); a hidden one is out of the
    // accessibility tree, so they are found by their label in the DOM: each is there, shown or not.
    const header = (name: string) => table.locator(`thead button[aria-label="Sort by ${name}"]`);
    for (const name of ['AgentSN', 'Hostname', 'Status', 'OS', 'Arch', 'Management IP'])
      expect(await header(name).count(), name).toBe(1);
    for (const name of ['AgentSN', 'Hostname', 'Status']) expect(await header(name).isVisible(), name).toBe(true);
    for (const name of ['OS', 'Arch', 'Management IP']) expect(await header(name).isVisible(), name).toBe(false);
    expect(await row.getByRole('link', { name: `Open host ${HOST}` }).isVisible()).toBe(true);
    // Evaluated in the page (a string: this file is checked without the DOM library).
    const widths = (await page.evaluate(
      '({ doc: document.documentElement.scrollWidth, view: window.innerWidth })',
    )) as { doc: number; view: number };
    expect(widths.doc).toBeLessThanOrEqual(widths.view);
    await row.getByRole('button', { name: `Details of ${HOST}` }).click();
    await page.getByRole('region', { name: `Host ${HOST}` }).waitFor();
    await shot('hosts-420px');
    await page.setViewportSize({ width: 1360, height: 900 });
  });

  it('no script error and no CSP refusal in the whole run', () => {
    expect(pageErrors).toEqual([]);
  });
});
