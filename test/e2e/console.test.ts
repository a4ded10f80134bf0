// The web console in Debian's Chromium (playwright-core), against the real `aspire` server and a
// real `boot`: log in (a wrong token first), the host online on Dashboard and Hosts, upload a
// sub-agent package and install it from Agent versions until the subtask is SUCCESS, create and
// bind a tag and see its count change, upgrade by tag and revoke, upload progress, the banner
// while the server is away, a token revoked mid-session. Controls are found by role and
// accessible name. Screenshots of each tab go to test-artifacts/console/.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  binary,
  repoRoot,
  startAspire,
  startBoot,
  waitUntil,
  type AspireHandle,
  type BootHandle,
} from '@aspire/testing';
import { packFixture, type Packed } from '../../packages/testing/fixtures/pack-fixture.ts';

const run = promisify(execFile);
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
/** The browser runs in another zone than the server's UTC, to see local times. */
const TIME_ZONE = 'Asia/Shanghai';
const AGENT = 'ConsoleAgent';
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
let browser: Browser;
let context: BrowserContext;
let page: Page;
let work: string;
let agentsn: string;
let hostname: string;
let pkg: Packed;
const pageErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'aspire-console-'));
  const launching = chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  launching.catch(() => {}); // awaited below; no unhandled rejection while the server starts
  srv = await startAspire();
  boot = await startBoot({
    serverUrl: srv.url,
    enrollSecret: srv.enrollSecret,
    step: 0.5,
    config: { supervision: SUPERVISION },
  });
  agentsn = (
    await waitUntil(() => (boot.readMeta()?.trusted ? boot.readMeta() : undefined), {
      timeoutMs: 30_000,
      what: 'boot trusted',
    })
  ).agentsn;
  hostname = (await srv.api('GET', `/api/v1/server/agent?agentsn=${agentsn}`)).body.host.hostname;
  pkg = await packFixture({ fixture: 'idle-agent', name: AGENT, version: '1.0.0', outDir: work });
  browser = await launching;
  context = await browser.newContext({
    timezoneId: TIME_ZONE,
    locale: 'en-US',
    viewport: { width: 1360, height: 900 },
  });
  page = await context.newPage();
  // Script errors and CSP refusals would show here; failed loads (401, server away) are expected.
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource|ERR_CONNECTION_REFUSED/.test(m.text()))
      pageErrors.push(m.text());
  });
});

afterAll(async () => {
  await browser?.close();
  await boot?.stop();
  // Sub-agents outlive boot by design: kill every process this suite's boot left running in its
  // state dir (an upgrade's old version included).
  if (boot) for (const pid of processesUnder(boot.stateDir)) killGroup(pid);
  boot?.cleanup();
  await srv?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Pids whose working directory is inside dir (sub-agents run in their version dir). */
function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/cwd`).startsWith(`${dir}/`)) out.push(Number(name));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}

function killGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* gone, or not a group leader */
    }
  }
}

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
const text = async (loc: ReturnType<Page['locator']>) => ((await loc.textContent()) ?? '').trim();
/** Wait (generously, a loaded 2-core machine) until the locator's text passes the test. */
async function waitText(
  loc: ReturnType<Page['locator']>,
  ok: (t: string) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<string> {
  return waitUntil(
    async () => {
      const t = await text(loc);
      return ok(t) ? t : undefined;
    },
    { timeoutMs, what },
  );
}

describe('web console', () => {
  it('serves one page with its own script and style under a strict CSP', async () => {
    const res = await fetch(`${srv.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    const js = /src="(\/console\/app\.js\?v=\w+)"/.exec(html)?.[1];
    expect(js).toBeDefined();
    const script = await fetch(`${srv.url}${js}`);
    expect(script.status).toBe(200);
    const etag = script.headers.get('etag');
    expect((await fetch(`${srv.url}${js}`, { headers: { 'if-none-match': etag! } })).status).toBe(304);
    // The page itself is public, the data is not.
    expect((await fetch(`${srv.url}/api/v1/server/dashboard`)).status).toBe(401);
  });

  it('a wrong token is refused with a clear message', async () => {
    await page.goto(srv.url);
    await page.getByLabel('Operator token').fill('asp_not-a-real-token-0000');
    await page.getByRole('button', { name: 'Log in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await text(alert)).toMatch(/Wrong token.*401/);
    expect(await page.getByRole('tablist').count()).toBe(0);
    await shot('login-wrong-token');
  });

  it('logs in and shows the host online on the Dashboard, with the chart', async () => {
    await page.getByLabel('Operator token').fill(srv.token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('tab', { name: 'Dashboard', selected: true }).waitFor();
    await waitText(page.getByRole('group', { name: 'Hosts online' }), (t) => t.startsWith('1'), 'Hosts online 1');
    expect(await text(page.getByRole('group', { name: 'Hosts total' }))).toMatch(/^1/);
    await page.getByRole('img', { name: /Hosts online: 1 at/ }).waitFor({ timeout: 20_000 });
    // The token is kept for the session: a reload stays logged in.
    await page.reload();
    await page.getByRole('tab', { name: 'Dashboard', selected: true }).waitFor();
    await waitText(
      page.getByRole('group', { name: 'Hosts online' }),
      (t) => t.startsWith('1'),
      'Hosts online 1 after reload',
    );
    await shot('dashboard');
  });

  it('Hosts lists the host online, times in the browser zone, and a row expands', async () => {
    await page.getByRole('tab', { name: 'Hosts' }).click();
    const table = page.getByRole('table', { name: 'Hosts' });
    const row = table.getByRole('row').filter({ hasText: agentsn });
    await waitText(row, (t) => t.includes('online'), 'host row online');
    // Last change in the browser's zone (UTC in the tooltip). Compared in a loop: the row polls,
    // and a host that missed pushes on a loaded machine may have changed status meanwhile.
    const fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: TIME_ZONE,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hour12: false,
    });
    await waitUntil(
      async () => {
        const host = (await srv.api('GET', `/api/v1/server/agent?agentsn=${agentsn}`)).body.host as {
          gmt_modify: number;
        };
        const cell = row.locator('time');
        return (
          (await text(cell)) === fmt.format(new Date(host.gmt_modify)) &&
          (await cell.getAttribute('title')) === new Date(host.gmt_modify).toISOString()
        );
      },
      { timeoutMs: 20_000, what: 'last change shown in the browser zone' },
    );

    await row.getByRole('button', { name: `Details of ${hostname}` }).click();
    const details = page.getByRole('region', { name: `Host ${hostname}` });
    await details.waitFor();
    expect(await text(details)).toMatch(/No bound tags/);

    // Search by a prefix of the AgentSN; a search and a filter that match nothing.
    const pages = page.getByRole('navigation', { name: 'Hosts pages' }).getByRole('status');
    await page.getByRole('searchbox', { name: 'Search' }).fill('no-such-host');
    await waitText(pages, (t) => t.startsWith('0–0 of 0'), 'search without a match');
    await page.getByRole('searchbox', { name: 'Search' }).fill(agentsn.slice(0, 8).toUpperCase());
    await waitText(pages, (t) => t.startsWith('1–1 of 1'), 'search by AgentSN prefix');
    await page.getByRole('combobox', { name: 'Status' }).selectOption('offline');
    await table.getByText('No hosts match.').waitFor();
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await waitText(row, (t) => t.includes('online'), 'host row back');
    // The expanded row stays expanded across filtering.
    await details.waitFor();
    // Columns sort on the server (sortby/order), both ways.
    const lastChange = page.getByRole('columnheader', { name: 'Sort by Last change' });
    await page.getByRole('button', { name: 'Sort by Last change' }).click();
    await waitUntil(async () => (await lastChange.getAttribute('aria-sort')) === 'ascending', {
      what: 'sorted ascending',
    });
    await page.getByRole('button', { name: 'Sort by Last change' }).click();
    await waitUntil(async () => (await lastChange.getAttribute('aria-sort')) === 'descending', {
      what: 'sorted descending',
    });
    await waitText(row, (t) => t.includes('online'), 'host row after sorting');
    await shot('hosts');
  });

  it('Agent versions: upload a package, install it on the host, follow the subtask to SUCCESS', async () => {
    await page.getByRole('tab', { name: 'Agent versions' }).click();
    await page.getByLabel('Package file').setInputFiles(pkg.file);
    // Name and version are guessed from ConsoleAgent-1.0.0.tar.gz.
    expect(await page.getByRole('textbox', { name: 'Name' }).inputValue()).toBe(AGENT);
    expect(await page.getByRole('textbox', { name: 'Version' }).inputValue()).toBe('1.0.0');
    await page.getByRole('button', { name: 'Upload' }).click();
    await waitText(
      page.getByRole('form', { name: 'Upload a package' }).getByRole('status'),
      (t) => t.startsWith(`Uploaded ${AGENT} 1.0.0`),
      'upload done',
    );
    const pkgRow = page.getByRole('table', { name: 'Packages' }).getByRole('row').filter({ hasText: AGENT });
    await waitText(pkgRow, (t) => t.includes(pkg.sha256), 'package row with its SHA256');
    expect(await text(pkgRow)).toContain(`packages/linux/x86_64/${AGENT}-1.0.0.tar.gz`);

    // The uploaded package is the chosen one; pick the host and start an install.
    const form = page.getByRole('form', { name: 'Install or upgrade' });
    expect(await text(form)).toContain(`${AGENT} 1.0.0 (linux/x86_64)`);
    await form.getByRole('searchbox', { name: 'Find hosts' }).fill(hostname);
    await form.getByRole('checkbox', { name: new RegExp(agentsn) }).check();
    await form.getByRole('button', { name: 'Start task' }).click();

    const subtasks = page.getByRole('table', { name: /^Subtasks of task \d+$/ });
    const subRow = subtasks.getByRole('row').filter({ hasText: agentsn });
    await waitText(subRow, (t) => /SUCCESS|FAILED|BURIED/.test(t), 'subtask final', 45_000);
    expect(await text(subRow)).toContain('SUCCESS');
    await waitText(
      page.getByRole('status', { name: 'Task progress' }),
      (t) => t === '1 of 1 complete',
      'task complete',
    );
    await waitText(
      page.getByRole('list', { name: /^Subtask states of task \d+$/ }),
      (t) => t.replace(/\s+/g, ' ') === 'SUCCESS 1',
      'per-state counts',
    );
    // The host really runs it.
    await waitUntil(
      async () => {
        const agents = (await srv.api('GET', `/api/v1/server/agent?agentsn=${agentsn}`)).body.host.agents as {
          name: string;
          status: string;
        }[];
        return agents.some((a) => a.name === AGENT && a.status === 'running');
      },
      { timeoutMs: 20_000, what: `${AGENT} running on the host` },
    );
    await shot('versions');

    // The same package again is refused, and says why.
    await page.getByRole('button', { name: 'Upload' }).click();
    await waitText(
      page.getByRole('form', { name: 'Upload a package' }).getByRole('alert'),
      (t) => t.startsWith('Upload failed: conflict'),
      'duplicate upload refused',
    );
    expect((await srv.api('GET', '/api/v1/server/package')).body.count).toBe(1);
  });

  it('Tags: create a tag, bind it to the host, and the count changes', async () => {
    await page.getByRole('tab', { name: 'Tags' }).click();
    const create = page.getByRole('form', { name: 'Create a tag' });
    await create.getByRole('textbox', { name: 'Key' }).fill('role');
    await create.getByRole('textbox', { name: 'Value' }).fill('web');
    await create.getByRole('button', { name: 'Create tag' }).click();
    const count = page.getByRole('cell', { name: 'Hosts bound to role=web' });
    await waitText(count, (t) => t === '0', 'new tag with 0 hosts');

    await page.getByRole('button', { name: 'Bind or unbind hosts for role=web' }).click();
    const bind = page.getByRole('form', { name: 'Hosts for role=web' });
    await bind.getByRole('searchbox', { name: 'Find hosts' }).fill(agentsn);
    await bind.getByRole('checkbox', { name: new RegExp(agentsn) }).check();
    await bind.getByRole('button', { name: 'Bind', exact: true }).click();
    await waitText(bind.getByRole('status'), (t) => t.startsWith('Bound 1 host'), 'bound');
    await waitText(count, (t) => t === '1', 'tag count 1');
    await shot('tags');

    // The host's row shows the tag, and the tag filter finds it.
    await page.getByRole('tab', { name: 'Hosts' }).click();
    await page.getByRole('textbox', { name: 'Tag' }).fill('role=web');
    await waitText(
      page.getByRole('navigation', { name: 'Hosts pages' }).getByRole('status'),
      (t) => t.startsWith('1–1 of 1'),
      'tag filter',
    );
    await page.getByRole('button', { name: `Details of ${hostname}` }).click();
    await page
      .getByRole('list', { name: `Tags of ${hostname}` })
      .getByText('role=web')
      .waitFor();
    await page
      .getByRole('table', { name: 'Agents' })
      .getByRole('row', { name: new RegExp(AGENT) })
      .waitFor();
    await shot('hosts-expanded');
  });

  it('Agent versions: upgrade every host with a tag, then revoke the still-open tag task', async () => {
    const v2 = await packFixture({ fixture: 'idle-agent', name: AGENT, version: '1.0.1', outDir: work });
    await page.getByRole('tab', { name: 'Agent versions' }).click();
    await page.getByLabel('Package file').setInputFiles(v2.file);
    expect(await page.getByRole('textbox', { name: 'Version' }).inputValue()).toBe('1.0.1');
    await page.getByRole('button', { name: 'Upload' }).click();
    await waitText(
      page.getByRole('form', { name: 'Upload a package' }).getByRole('status'),
      (t) => t.startsWith(`Uploaded ${AGENT} 1.0.1`),
      'upload 1.0.1',
    );

    const form = page.getByRole('form', { name: 'Install or upgrade' });
    expect(await text(form)).toContain(`${AGENT} 1.0.1 (linux/x86_64)`);
    await form.getByRole('radio', { name: 'upgrade' }).check();
    await form.getByRole('radio', { name: 'hosts with a tag' }).check();
    await form.getByRole('combobox', { name: 'Tag' }).selectOption('role=web');
    await form.getByRole('button', { name: 'Start task' }).click();

    const subRow = page
      .getByRole('table', { name: /^Subtasks of task \d+$/ })
      .getByRole('row')
      .filter({ hasText: agentsn });
    await waitText(subRow, (t) => /SUCCESS|FAILED|BURIED/.test(t), 'tag subtask final', 45_000);
    expect(await text(subRow)).toContain('SUCCESS');
    await waitUntil(
      async () => {
        const agents = (await srv.api('GET', `/api/v1/server/agent?agentsn=${agentsn}`)).body.host.agents as {
          name: string;
          version: string;
          status: string;
        }[];
        return agents.some((a) => a.name === AGENT && a.version === '1.0.1' && a.status === 'running');
      },
      { timeoutMs: 20_000, what: `${AGENT} 1.0.1 running` },
    );

    // A tag task stays open for its window; revoke it from the console.
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: /^Revoke task \d+$/ }).click();
    await page.getByRole('heading', { name: /^Task #\d+ REVOKED$/ }).waitFor({ timeout: 20_000 });
    await shot('versions-tag-upgrade');

    // Unbind: the tag's count goes back to 0.
    await page.getByRole('tab', { name: 'Tags' }).click();
    await page.getByRole('button', { name: 'Bind or unbind hosts for role=web' }).click();
    const bind = page.getByRole('form', { name: 'Hosts for role=web' });
    await bind.getByRole('searchbox', { name: 'Find hosts' }).fill(hostname);
    await bind.getByRole('checkbox', { name: new RegExp(agentsn) }).check();
    await bind.getByRole('button', { name: 'Unbind' }).click();
    await waitText(bind.getByRole('status'), (t) => t.startsWith('Unbound 1 host'), 'unbound');
    await waitText(
      page.getByRole('cell', { name: 'Hosts bound to role=web' }),
      (t) => t === '0',
      'tag count back to 0',
    );
  });

  it('an upload on a slow link shows its progress', async () => {
    await page.getByRole('tab', { name: 'Agent versions' }).click();
    const big = join(work, 'BigAgent-0.0.1.tar.gz');
    writeFileSync(big, randomBytes(600 * 1024));
    // Chromium's own throttling: about 3 s for 600 KiB.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 20,
      downloadThroughput: -1,
      uploadThroughput: 200 * 1024,
    });
    try {
      await page.getByLabel('Package file').setInputFiles(big);
      await page.getByRole('button', { name: 'Upload' }).click();
      const bar = page.getByRole('progressbar', { name: 'Upload progress' });
      const seen = await waitUntil(
        async () => {
          const now = Number(await bar.getAttribute('value', { timeout: 1000 }).catch(() => 0));
          return now > 0 && now < 600 * 1024 ? now : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 50, what: 'upload progress between 0 and the whole file' },
      );
      expect(seen).toBeGreaterThan(0);
      await waitText(
        page.getByRole('form', { name: 'Upload a package' }).getByRole('status'),
        (t) => t.startsWith('Uploaded BigAgent 0.0.1'),
        'slow upload done',
        60_000,
      );
      expect(await bar.count()).toBe(0);
    } finally {
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: -1,
      });
      await cdp.detach();
    }
  });

  it('shows a banner while the server is away and recovers when it returns', async () => {
    await page.getByRole('tab', { name: 'Dashboard' }).click();
    await waitText(page.getByRole('group', { name: 'Hosts total' }), (t) => t.startsWith('1'), 'dashboard loaded');
    // The installed sub-agent is counted: deployed 1, online 1.
    const agentRow = page.getByRole('table', { name: 'Agents' }).getByRole('row', { name: new RegExp(AGENT) });
    await waitUntil(async () => (await agentRow.getByRole('cell').allTextContents()).join(' ') === '1 1', {
      timeoutMs: 20_000,
      what: 'agent deployed 1 online 1',
    });
    await srv.child.stop();
    const banner = page.getByRole('alert', { name: 'Server unreachable' });
    await banner.waitFor({ timeout: 20_000 });
    expect(await text(banner)).toContain('Cannot reach the Aspire server');
    // Not a blank page: the last figures stay.
    expect(await text(page.getByRole('group', { name: 'Hosts total' }))).toMatch(/^1/);
    await shot('server-away');
    await srv.restart();
    await banner.waitFor({ state: 'detached', timeout: 20_000 });
    await waitText(
      page.getByRole('group', { name: 'Hosts total' }),
      (t) => t.startsWith('1'),
      'dashboard after recovery',
    );
  });

  it('a token revoked during the session ends it with a note on the login form', async () => {
    // The administrator revokes the token (startAspire names it "test") with the CLI.
    const bin = binary('aspire');
    const { stdout } = await run(bin.cmd, [
      ...bin.args,
      'token',
      'revoke',
      '--data-dir',
      srv.dataDir,
      '--name',
      'test',
    ]);
    expect(stdout).toMatch(/revoked 1 token/);
    // The dashboard's next poll (every 5 s) meets the 401.
    await page.getByRole('button', { name: 'Log in' }).waitFor({ timeout: 20_000 });
    expect(await text(page.getByRole('status'))).toMatch(/no longer accepts this token \(401\)/);
    await shot('login-token-revoked');
  });

  it('ran without a script error or a Content-Security-Policy refusal', () => {
    expect(pageErrors).toEqual([]);
  });
});
