// The console's Desired state tab in Debian's Chromium (playwright-core) against the real `aspire`
// server: build a product > service > component tree with the form, put a policy at the service
// (a bad crontab line refused with the server's reason first), attach a host to the component,
// and read a host's effective policy with its origins, the hash it applied and the drift it
// reported (pushed as the BootAgent pushes events). Screenshots go to test-artifacts/console/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AspireHandle, repoRoot, startAspire, waitUntil } from '@aspire/testing';

const ARTIFACTS = join(repoRoot(), 'test-artifacts', 'console');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--no-first-run',
];
const SN = 'policy-host-1';

let srv: AspireHandle;
let browser: Browser;
let page: Page;
let credential = '';
const pageErrors: string[] = [];

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${srv.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return (await res.json()) as any;
}

const push = (events: unknown[] = []) =>
  post(
    '/agent/status',
    {
      hostname: `${SN}.example`,
      agentsn: SN,
      version: '1.0.0',
      uptime: 1,
      timestamp: 1,
      step: 60,
      agents: [],
      jobs: [],
      events,
      os: 'linux',
      arch: 'x86_64',
    },
    { 'x-aspire-credential': credential },
  );

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const launching = chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  launching.catch(() => {});
  srv = await startAspire();
  credential = (
    await post('/agent/register', { hostname: `${SN}.example`, agentsn: SN }, { 'x-aspire-enroll': srv.enrollSecret })
  ).credential;
  await push();
  const up = await fetch(
    `${srv.url}/api/v1/server/package?${new URLSearchParams({ name: 'BasicAgent', version: '1.2.3', os: 'linux', arch: 'x86_64', file: 'BasicAgent-1.2.3.tar.gz' })}`,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/octet-stream' },
      body: Buffer.from('package'),
    },
  );
  expect(up.status).toBe(200);
  browser = await launching;
  page = await (await browser.newContext({ viewport: { width: 1360, height: 900 } })).newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
const tree = () => page.getByRole('list', { name: 'Product tree' });

async function createNode(kind: string, name: string, parent?: string, tags?: string) {
  await page.getByLabel('Kind').selectOption(kind);
  await page.getByLabel('Name', { exact: true }).fill(name);
  if (parent) await page.getByLabel('Parent').selectOption({ label: parent });
  if (tags) await page.getByLabel('Tag selector').fill(tags);
  await page.getByRole('button', { name: 'Create node' }).click();
  await tree()
    .getByRole('button', { name: new RegExp(`^${kind} ${name}`) })
    .waitFor({ timeout: 20_000 });
}

describe('console: desired state', () => {
  it('builds the tree, refuses a bad crontab line, saves a service policy, attaches a host', async () => {
    await page.goto(srv.url);
    await page.getByLabel('Operator token').fill(srv.token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('tab', { name: 'Desired state' }).click();
    await tree().getByRole('button', { name: 'Global (root)' }).waitFor();
    await createNode('product', 'shop');
    await createNode('service', 'web', 'shop');
    await createNode('component', 'front', 'web', 'role=front');

    await tree()
      .getByRole('button', { name: /^service web/ })
      .click();
    await page.getByRole('heading', { name: 'Policy: service web' }).waitFor();
    const editor = page.getByLabel('Policy JSON');
    const policy = (minute: string) =>
      JSON.stringify({
        subagents: [{ name: 'BasicAgent', version: '1.2.3', limits: { cpu: '10%' } }],
        periodic: [
          {
            name: 'rotate',
            user: 'root',
            schedule: `0 ${minute} * * * *`,
            command: '/usr/sbin/logrotate /etc/logrotate.conf',
          },
          { name: 'report', user: 'root', schedule: '@hourly', command: '/usr/local/bin/report' },
        ],
      });
    await editor.fill(policy('61'));
    await page.getByRole('button', { name: 'Save policy' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'Refused' });
    await alert.waitFor({ timeout: 20_000 });
    expect(await alert.textContent()).toContain('rotate');
    await shot('policy-refused');
    await editor.fill(policy('*/5'));
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText('Policy saved.').waitFor({ timeout: 20_000 });
    await tree()
      .getByRole('button', { name: /^service web.*policy$/ })
      .waitFor({ timeout: 20_000 });

    await tree()
      .getByRole('button', { name: /^component front/ })
      .click();
    await page.getByLabel('Attach hosts (AgentSNs)').fill(SN);
    await page.getByRole('button', { name: 'Attach', exact: true }).click();
    await page.getByText('Attached 1 host(s).').waitFor({ timeout: 20_000 });
    await tree()
      .getByRole('button', { name: /^component front \(1 host, tags role=front\)/ })
      .waitFor({ timeout: 20_000 });
    await shot('policy-tree');
  });

  it("a host's effective policy: origins, applied hash in sync, and the drift it repaired", async () => {
    const eff = (await srv.api('GET', `/api/v1/server/host/${SN}/policy`)).body;
    const now = Math.floor(Date.now() / 1000);
    await push([
      { localid: 1, occurred: now, kind: 'policy_applied', message: 'applied', data: { hash: eff.hash } },
      {
        localid: 2,
        occurred: now + 1,
        kind: 'policy_drift',
        message: 'repaired',
        data: {
          hash: eff.hash,
          repaired: [{ kind: 'periodic', name: 'report', was: 'edited', now: '@hourly root /usr/local/bin/report' }],
        },
      },
    ]);
    await page.goto(`${srv.url}/#/policy/host/${SN}`);
    const card = page.getByRole('region', { name: "A host's effective policy" });
    await card.getByTestId('policy-hash').waitFor({ timeout: 20_000 });
    expect(await card.getByTestId('policy-hash').textContent()).toBe(eff.hash);
    await waitUntil(
      async () => ((await card.getByTestId('policy-applied').textContent()) ?? '').includes('in sync') || undefined,
      {
        timeoutMs: 20_000,
        what: 'applied in sync',
      },
    );
    const periodic = card.getByRole('table', { name: 'Managed periodic tasks' });
    const rotate = periodic.getByRole('row').filter({ hasText: 'rotate' });
    expect(await rotate.textContent()).toContain('service web');
    expect(await rotate.textContent()).toContain('0 */5 * * * * root /usr/sbin/logrotate');
    const drift = card.getByRole('table', { name: 'Drift repaired' });
    expect(await drift.getByRole('row').filter({ hasText: 'report' }).textContent()).toContain('edited');
    await shot('policy-host');
    // The host page links to it.
    await page.goto(`${srv.url}/#/hosts/${SN}`);
    await page.getByRole('link', { name: 'Desired state of this host' }).click();
    await page.getByRole('tab', { name: 'Desired state', selected: true }).waitFor({ timeout: 20_000 });
    await page.getByTestId('policy-hash').waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('policy-hash').textContent()).toBe(eff.hash);
    expect(pageErrors).toEqual([]);
  });
});
