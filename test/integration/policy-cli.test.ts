// `aspire tree` and `aspire policy` (docs/cli.md) against the real server: build a tree, attach a
// host, put a policy from a file and from stdin, a refused policy (bad crontab line) exits 1
// with the server's cause and changes nothing, a host's effective policy as a table and as JSON.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AspireHandle, binary, startAspire } from '@aspire/testing';

let srv: AspireHandle;
let work: string;
const SN = 'cli-policy-1';

function cli(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = binary('aspire');
  const env: Record<string, string | undefined> = { ...process.env, ASPIRE_URL: srv.url, ASPIRE_TOKEN: srv.token };
  delete env.ASPIRE_CA;
  return new Promise((resolve) => {
    const child = execFile(bin.cmd, [...bin.args, ...args], { env, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : -1
        : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}

async function ok(args: string[], stdin?: string): Promise<string> {
  const r = await cli(args, stdin);
  expect(r.code, `aspire ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aspire-policy-cli-'));
  srv = await startAspire();
  const reg = await fetch(`${srv.url}/agent/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-aspire-enroll': srv.enrollSecret },
    body: JSON.stringify({ hostname: `${SN}.example`, agentsn: SN }),
  });
  expect(reg.status).toBe(200);
});

afterAll(async () => {
  await srv?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('aspire tree and aspire policy', () => {
  it('builds the tree, attaches a host, puts policies, refuses a bad one, shows the effective policy', async () => {
    const product = JSON.parse(await ok(['tree', 'add', 'product', 'shop', '-o', 'json'])).node.id as number;
    const service = JSON.parse(await ok(['tree', 'add', 'service', 'web', '--parent', String(product), '-o', 'json']))
      .node.id as number;
    const comp = JSON.parse(
      await ok([
        'tree',
        'add',
        'component',
        'front',
        '--parent',
        String(service),
        '--tags',
        'role=front',
        '-o',
        'json',
      ]),
    ).node.id as number;
    const orphan = await cli(['tree', 'add', 'service', 'nowhere']);
    expect(orphan.code).toBe(1);
    expect(orphan.stderr).toMatch(/needs a parent product/);
    expect(await ok(['tree', 'attach', String(comp), SN, '-o', 'table'])).toBe(`1 hosts attached to node ${comp}\n`);

    const file = join(work, 'web.json');
    writeFileSync(
      file,
      JSON.stringify({
        periodic: [{ name: 'report', user: 'root', schedule: '0 0 * * * *', command: '/usr/local/bin/report' }],
      }),
    );
    expect(await ok(['policy', 'put', '--node', String(service), file, '-o', 'table'])).toBe(
      `policy node:${service} saved\n`,
    );
    await ok(
      ['policy', 'put', '--root', '-'],
      JSON.stringify({ periodic: [{ name: 'inventory', user: 'root', schedule: '@daily', command: '/usr/bin/true' }] }),
    );
    const bad = await cli(
      ['policy', 'put', '--node', String(comp), '-'],
      JSON.stringify({ periodic: [{ name: 'x', user: 'root', schedule: '0 0 32 * * *', command: 'true' }] }),
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/periodic "x"/);
    expect(JSON.parse(await ok(['policy', 'get', '--node', String(comp)]))).toBeNull();
    const usage = await cli(['policy', 'get', '--root', '--node', '1']);
    expect(usage.code).toBe(2);

    const tree = await ok(['tree', 'show', '-o', 'table']);
    expect(tree).toBe(
      `root  [policy]\n  ${product} product shop\n    ${service} service web  [policy]\n      ${comp} component front  1 hosts  tags role=front\n`,
    );
    const table = await ok(['policy', 'show', SN, '-o', 'table']);
    expect(table).toMatch(/^hash [0-9a-f]{64}\napplied never\n/);
    expect(table).toMatch(
      new RegExp(`periodic +│ report +│ 0 0 \\* \\* \\* \\* root /usr/local/bin/report +│ node:${service} `),
    );
    expect(table).toMatch(/periodic +│ inventory +│ @daily root \/usr\/bin\/true +│ root /);
    expect(table).toMatch(/0 drift reports\n$/);
    const shown = JSON.parse(await ok(['policy', 'show', SN]));
    expect(shown.origin).toEqual({ report: `node:${service}`, inventory: 'root' });
    expect(shown.component).toMatchObject({ component: comp, by: 'explicit' });

    expect(await ok(['policy', 'delete', '--root', '-o', 'table'])).toBe('policy root: 1 deleted\n');
    expect(await ok(['tree', 'detach', String(comp), SN, '-o', 'table'])).toBe('1 detached\n');
    expect(await ok(['tree', 'delete', String(comp), '-o', 'table'])).toBe(`node ${comp} deleted\n`);
    // Every step is a CLI process, each a full Node start: on a loaded 2-core CI machine that alone took
    // over the default 60 s; each run still has its own 120 s limit.
  }, 240_000);
});
