// Shared by the BootAgent self-upgrade suites (boot-self-upgrade*.test.ts): builds of boot with
// a chosen version, a supervisor that behaves like systemd's Restart=always, and the looks at the
// host they assert on (the BootAgents running, the log, the server's view).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { waitUntil, type AspireHandle } from '@aspire/testing';

export const exec = promisify(execFile);
/** The checkout this suite is in: its scripts build the binaries under test. */
export const ROOT = resolve(import.meta.dirname, '../..');
export const NODE = join(ROOT, 'node_modules/node/bin/node');

/** systemd's Restart=always in a few lines: run the executable at `cmd`, start it again 0.5 s after any exit. */
export class Supervisor {
  child: ChildProcess | undefined;
  starts = 0;
  output = '';
  private stopping = false;
  constructor(
    private readonly cmd: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}
  start(): void {
    this.starts++;
    const c = spawn(this.cmd, this.args, { stdio: ['ignore', 'pipe', 'pipe'], env: this.env });
    this.child = c;
    c.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    c.on('exit', (code, signal) => {
      this.output += `[supervisor: exit code ${code} signal ${signal}]\n`;
      if (!this.stopping) setTimeout(() => this.start(), 500);
    });
  }
  get pid(): number {
    return this.child!.pid!;
  }
  async stop(): Promise<void> {
    this.stopping = true;
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 25_000))]);
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

/** The boot bundle of `version` (scripts/build.mjs) in DIR/bundle/boot.cjs; optionally one that exits at start. */
export async function buildBundle(dir: string, version: string, exitAtStart = false): Promise<string> {
  const env = { ...process.env, ASPIRE_VERSION: version, ASPIRE_BUILD_DIR: join(dir, 'bundle'), BOOT_SERVER_ADDR: '' };
  await exec(NODE, ['scripts/build.mjs', 'boot'], { cwd: ROOT, env, timeout: 300_000 });
  const bundle = join(dir, 'bundle', 'boot.cjs');
  if (exitAtStart) {
    // A build that crashes at start: --version still answers (so it passes the package check).
    const text = readFileSync(bundle, 'utf8');
    writeFileSync(
      bundle,
      `if (!process.argv.includes('--version')) { process.stderr.write('boot: this build exits at start\\n'); process.exit(1); }\n${text}`,
    );
  }
  return join(dir, 'bundle');
}

/** The single executable of a bundle dir (scripts/sea.mjs, as package.sh makes it). */
export async function seaOf(bundleDir: string, outDir: string): Promise<string> {
  await exec(
    NODE,
    ['scripts/sea.mjs', '--bundle', join(bundleDir, 'boot.cjs'), '--name', 'boot', '--out', outDir, '--arch', 'x86_64'],
    { cwd: ROOT, timeout: 300_000 },
  );
  return join(outDir, 'x86_64', 'boot');
}

export async function versionOf(file: string): Promise<string> {
  const { stdout } = await exec(file, ['--version'], { timeout: 30_000 });
  return stdout.trim().split(' ')[1]!;
}

export async function uploadPackage(srv: AspireHandle, name: string, version: string, path: string, file: string) {
  const q = new URLSearchParams({ name, version, os: 'linux', arch: 'x86_64', file });
  const res = await fetch(`${srv.url}/api/v1/server/package?${q}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/octet-stream' },
    body: readFileSync(path),
  });
  expect(((await res.json()) as { status: number }).status).toBe(0);
}

export async function createTask(
  srv: AspireHandle,
  agentsn: string,
  command: string,
  parameters: Record<string, unknown>,
): Promise<number> {
  const created = await srv.api('POST', '/api/v1/server/task', { command, agents: [agentsn], parameters });
  expect(created.body.status, JSON.stringify(created.body)).toBe(0);
  return created.body.id as number;
}

export function finalSubtask(srv: AspireHandle, id: number, timeoutMs = 150_000) {
  return waitUntil(
    async () => {
      const r = await srv.api('GET', `/api/v1/server/task?id=${id}`);
      const s = r.body.subtasks?.[0];
      return s && ['SUCCESS', 'FAILED', 'BURIED', 'REVOKED'].includes(s.state) ? s : undefined;
    },
    { timeoutMs, what: `task ${id} final` },
  ) as Promise<{ state: string; errcode: number; message: string }>;
}

export async function hostOf(
  srv: AspireHandle,
  agentsn: string,
): Promise<{ curvers: string; agents: { name: string; pid?: number; status: string }[] }> {
  return (await srv.api('GET', `/api/v1/server/agent?agentsn=${agentsn}`)).body.host;
}

/** Every process whose command line carries `-d STATE -f`: the BootAgents of one host (sub-agents have no -d). */
export function bootPids(stateDir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      const i = argv.indexOf('-d');
      if (i >= 0 && argv[i + 1] === stateDir && argv.includes('-f')) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

export function writeBootConfig(file: string, srv: AspireHandle, healthySec: number): void {
  writeFileSync(
    file,
    JSON.stringify({
      servers: [srv.url],
      enrollSecret: srv.enrollSecret,
      step: 1,
      httpTimeoutSec: 5,
      selfUpgrade: { healthySec },
      supervision: { checkIntervalSec: 0.5, restartHoldSec: 1 },
    }),
  );
}

export async function waitTrusted(stateDir: string): Promise<string> {
  const m = await waitUntil(
    () => {
      try {
        const meta = JSON.parse(readFileSync(join(stateDir, 'meta.json'), 'utf8')) as {
          trusted: boolean;
          agentsn: string;
        };
        return meta.trusted ? meta : undefined;
      } catch {
        return undefined;
      }
    },
    { timeoutMs: 60_000, what: 'boot trusted' },
  );
  return m.agentsn;
}

/** boot's JSON log, read from a mark on. */
export class LogWatch {
  private offset = 0;
  constructor(private readonly file: string) {}
  mark(): void {
    try {
      this.offset = readFileSync(this.file, 'utf8').length;
    } catch {
      this.offset = 0;
    }
  }
  /** The first line after the mark whose msg matches (and `where` accepts). */
  wait(
    re: RegExp,
    where: (l: Record<string, unknown>) => boolean = () => true,
    timeoutMs = 90_000,
  ): Promise<Record<string, unknown>> {
    return waitUntil(
      () => {
        let text = '';
        try {
          text = readFileSync(this.file, 'utf8').slice(this.offset);
        } catch {
          return undefined;
        }
        for (const l of text.split('\n')) {
          if (!l) continue;
          try {
            const j = JSON.parse(l) as Record<string, unknown>;
            if (typeof j.msg === 'string' && re.test(j.msg) && where(j)) return j;
          } catch {
            /* half a line */
          }
        }
        return undefined;
      },
      { timeoutMs, intervalMs: 20, what: `log ${re}` },
    );
  }
}
