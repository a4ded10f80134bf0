// The README's first command must stay true: `npm run demo` brings up the server, a BootAgent,
// and a BasicAgent installed through the server, and answers a sync.bash through the hub; it
// prints the operator token itself beside the console URL, a busy port is one line naming the
// port and ASPIRE_DEMO_PORT, and Ctrl-C says what it stopped.
// Run here on free ports and a temp state dir.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Child, repoRoot } from '@aspire/testing';

const dir = mkdtempSync(join(tmpdir(), 'aspire-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('npm run demo: server, BootAgent and a supervised BasicAgent come up on loopback; the token is printed; Ctrl-C names what it stopped', async () => {
  const env = { ...process.env, ASPIRE_DEMO_DIR: dir, ASPIRE_DEMO_PORT: '0', ASPIRE_DEMO_HUB_PORT: '0' };
  const demo = new Child(process.execPath, [join(repoRoot(), 'scripts/demo.mjs')], { env, cwd: repoRoot() });
  try {
    await demo.waitForLine(/^Aspire is running on this machine/, 170_000);
    await demo.waitForLine(/^\s+audit log/, 10_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${demo.output}`);
  }
  expect(demo.output).toMatch(/host\s+[0-9a-f-]{36} online/);
  expect(demo.output).toMatch(/sync\.bash .* -> success "Linux /);
  // The token itself, the same as in the file, right below the console URL.
  const token = readFileSync(join(dir, 'operator-token'), 'utf8').trim();
  expect(demo.output).toMatch(new RegExp(`console\\s+http://127\\.0\\.0\\.1:\\d+/ .*\\n\\s+token\\s+${token}\\n`));
  demo.kill('SIGINT');
  const { code } = await demo.exited;
  expect(code, demo.output).toBe(0);
  expect(demo.output).toMatch(
    /demo: Ctrl-C: stopped aspire \(pid \d+\), boot \(pid \d+\), BasicAgent \(pid \d+\); state kept in /,
  );
  // Nothing is left running: the demo stops the BasicAgent it had the BootAgent start.
  const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  expect(ps).not.toContain(join(dir, 'basic', 'basic.json'));
}, 240_000);

it('a busy port: one line naming the port and ASPIRE_DEMO_PORT, exit 1, nothing started', async () => {
  const busy: Server = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as { port: number }).port;
  try {
    const env = {
      ...process.env,
      ASPIRE_DEMO_DIR: join(dir, 'busy'),
      ASPIRE_DEMO_PORT: String(port),
      ASPIRE_DEMO_HUB_PORT: '0',
    };
    const demo = new Child(process.execPath, [join(repoRoot(), 'scripts/demo.mjs')], { env, cwd: repoRoot() });
    const { code } = await demo.exited;
    expect(code).toBe(1);
    expect(demo.output.trim().split('\n')).toEqual([
      `demo: port ${port} on 127.0.0.1 is in use; choose another with ASPIRE_DEMO_PORT, e.g. ASPIRE_DEMO_PORT=${port + 1} npm run demo`,
    ]);
  } finally {
    busy.close();
  }
}, 60_000);
