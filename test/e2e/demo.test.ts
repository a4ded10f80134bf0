// The README's first command must stay true: `npm run demo` brings up the server, a BootAgent,
// and a BasicAgent installed through the server, and answers a sync.bash through the hub.
// Run here on free ports and a temp state dir (--check exits once everything is up).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Child, repoRoot } from '@aspire/testing';

const dir = mkdtempSync(join(tmpdir(), 'aspire-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('npm run demo: server, BootAgent and a supervised BasicAgent come up on loopback', async () => {
  const env = { ...process.env, ASPIRE_DEMO_DIR: dir, ASPIRE_DEMO_PORT: '0', ASPIRE_DEMO_HUB_PORT: '0' };
  const demo = new Child(process.execPath, [join(repoRoot(), 'scripts/demo.mjs'), '--check'], { env, cwd: repoRoot() });
  const { code } = await demo.exited;
  expect(code, demo.output).toBe(0);
  expect(demo.output).toMatch(/host\s+[0-9a-f-]{36} online/);
  expect(demo.output).toMatch(/sync\.bash .* -> success "Linux /);
  // Nothing is left running: the demo stops the BasicAgent it had the BootAgent start.
  const { execFileSync } = await import('node:child_process');
  const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  expect(ps).not.toContain(join(dir, 'basic', 'basic.json'));
}, 180_000);
