// Issue 11 part 3: the host policy file, with the real server, real BasicAgents and a real boot.
// A command, run-as user, collector, job action or package source outside the host's policy is
// refused on the host with POLICY_REFUSED and nothing runs; in operator-signature mode only a
// command signed with a listed operator key runs; a policy file that does not parse stops the
// agent with exit 2 naming the line.
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, operatorPublicKeyBase64, signOperatorCommand } from '@aspire/protocol';
import {
  makeTestCa,
  startAspire,
  startBasicAgent,
  startBoot,
  waitUntil,
  type AspireHandle,
  type BasicAgentHandle,
  type BootHandle,
  type TestCa,
} from '@aspire/testing';

const STRICT_SN = '6b0f2f4e-5d2a-4c55-9d57-0d3f6f2d8a11';
const SIGNED_SN = '0c7e4d1b-8f0a-4a3e-b3c5-7e2f0a9d6c22';

let ca: TestCa;
let srv: AspireHandle;
let work: string;
const agents: BasicAgentHandle[] = [];
let boot: BootHandle | undefined;
const operator = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519');

/** A policy file as an operator would install it: 0644 (the test runs as root, or as its owner). */
function policyFile(name: string, body: unknown | string): string {
  const path = join(work, name);
  writeFileSync(path, typeof body === 'string' ? body : JSON.stringify(body, null, 2), { mode: 0o644 });
  return path;
}

const polaris = async (body: Record<string, unknown>) => {
  const r = await srv.api('POST', '/api/v1/server/polaris', body);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.response[0] as { resp: string; retcode: number; message: string; data?: unknown };
};

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aspire-policy-'));
  ca = makeTestCa();
  srv = await startAspire({ hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile } });
});

afterAll(async () => {
  for (const a of agents) await a.stop();
  await boot?.stop();
  boot?.cleanup();
  await srv?.stop();
  ca?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('BasicAgent with a strict policy file', () => {
  beforeAll(async () => {
    const strict = policyFile('strict.json', {
      version: 1,
      commands: [{ exact: 'echo allowed' }, { prefix: 'ls ' }, { pattern: 'echo [a-z]+' }],
      users: ['root'],
      collectors: ['kernel', 'uptime'],
    });
    agents.push(
      await startBasicAgent({
        port: srv.hubAddress!.port,
        caFile: ca.caCertFile,
        hostname: 'strict-host',
        agentsn: STRICT_SN,
        config: { policy: strict },
      }),
    );
  });

  it('an allowed command runs (exact, prefix, pattern)', async () => {
    expect(await polaris({ hosts: [STRICT_SN], method: 'sync.bash', cmd: 'echo allowed' })).toMatchObject({
      resp: 'success',
      retcode: 0,
      data: 'allowed\n',
    });
    const ls = await polaris({ hosts: [STRICT_SN], method: 'sync.bash', cmd: 'ls /' });
    expect(ls).toMatchObject({ resp: 'success', retcode: 0 });
    expect(String(ls.data).split('\n')).toContain('etc');
    expect(await polaris({ hosts: [STRICT_SN], method: 'sync.bash', cmd: 'echo hello', user: 'root' })).toMatchObject({
      resp: 'success',
      data: 'hello\n',
    });
  });

  it('a command outside the policy is refused with POLICY_REFUSED naming the rule, and nothing ran', async () => {
    const marker = join(work, 'strict-ran');
    for (const cmd of [`touch ${marker}`, `ls /; touch ${marker}`, `echo x; touch ${marker}`]) {
      const r = await polaris({ hosts: [STRICT_SN], method: 'sync.bash', cmd });
      expect(r, cmd).toMatchObject({ resp: 'failed', retcode: ErrorCode.POLICY_REFUSED });
      expect(r.message).toMatch(/^refused by host policy .*strict\.json: command ".*" is not allowed/);
    }
    expect(existsSync(marker)).toBe(false);
  });

  it('a forbidden run-as user is refused, even for an allowed command', async () => {
    const r = await polaris({ hosts: [STRICT_SN], method: 'sync.bash', cmd: 'echo allowed', user: 'nobody' });
    expect(r).toMatchObject({ resp: 'failed', retcode: ErrorCode.POLICY_REFUSED });
    expect(r.message).toContain('user "nobody" is not allowed');
    expect(r.data).toBeUndefined();
  });

  it("a run-as group other than the user's primary group is refused when the policy lists users but no groups (review finding 3)", async () => {
    const marker = join(work, 'group-ran');
    const r = await polaris({
      hosts: [STRICT_SN],
      method: 'sync.bash',
      cmd: `ls ${marker}`,
      user: 'root',
      group: 'disk',
    });
    expect(r).toMatchObject({ resp: 'failed', retcode: ErrorCode.POLICY_REFUSED });
    expect(r.message).toMatch(
      /^refused by host policy .*strict\.json: group "disk" is not allowed \(the policy lists users but no groups: only the primary group of "root" \(root\)\)/,
    );
    expect(r.data).toBeUndefined();
    // The user's own primary group passes the policy and runs.
    expect(
      await polaris({ hosts: [STRICT_SN], method: 'sync.bash', cmd: 'echo allowed', user: 'root', group: 'root' }),
    ).toMatchObject({ resp: 'success', retcode: 0, data: 'allowed\n' });
  });

  it('a forbidden collector is refused; a listed one answers', async () => {
    const r = await polaris({ hosts: [STRICT_SN], method: 'getinfo.users' });
    expect(r).toMatchObject({ resp: 'failed', retcode: ErrorCode.POLICY_REFUSED });
    expect(r.message).toContain('collector "users" is not allowed');
    expect(await polaris({ hosts: [STRICT_SN], method: 'getinfo.kernel' })).toMatchObject({ resp: 'success' });
  });

  it('a periodic task (task.add) outside the policy is refused and not stored', async () => {
    const r = await srv.api('POST', '/api/v1/server/polaris/tasks', {
      host: STRICT_SN,
      name: 'evil',
      line: `* * * * * * root touch ${join(work, 'task-ran')}`,
    });
    expect(r.body.retcode, JSON.stringify(r.body)).toBe(ErrorCode.POLICY_REFUSED);
    // The envelope says "success" (the request was carried); the agent's refusal is in the host's entry.
    expect(r.body.response?.[0]?.message).toContain('command');
    const list = await srv.api('GET', `/api/v1/server/polaris/tasks?host=${STRICT_SN}`);
    expect(JSON.stringify(list.body.data?.tasks ?? [])).not.toContain('evil');
  });
});

describe('BasicAgent in operator-signature mode', () => {
  const exp = () => Math.floor(Date.now() / 1000) + 300;

  beforeAll(async () => {
    const signed = policyFile('signed.json', {
      requireOperatorSignature: true,
      operatorKeys: [operatorPublicKeyBase64(operator.publicKey)],
    });
    agents.push(
      await startBasicAgent({
        port: srv.hubAddress!.port,
        caFile: ca.caCertFile,
        hostname: 'signed-host',
        agentsn: SIGNED_SN,
        config: { policy: signed },
      }),
    );
  });

  it('an unsigned command is refused with POLICY_OPERATOR_SIGNATURE, nothing ran', async () => {
    const marker = join(work, 'unsigned-ran');
    const r = await polaris({ hosts: [SIGNED_SN], method: 'sync.bash', cmd: `touch ${marker}` });
    expect(r).toMatchObject({ resp: 'failed', retcode: ErrorCode.POLICY_OPERATOR_SIGNATURE });
    expect(r.message).toContain('no operator signature');
    expect(existsSync(marker)).toBe(false);
  });

  it('a command signed by a listed operator key runs; the same signature over another command, or another key, does not', async () => {
    const marker = join(work, 'signed-ran');
    const cmd = `echo run >> ${marker} && echo signed`;
    const opsig = signOperatorCommand(operator.privateKey, { method: 'sync.bash', cmd }, [SIGNED_SN], exp());
    // The timeout is signed (absent: the default the server puts in the frame): a longer one does not verify.
    const longer = await polaris({ hosts: [SIGNED_SN], method: 'sync.bash', cmd, timeout: 3000, opsig });
    expect(longer).toMatchObject({ resp: 'failed', retcode: ErrorCode.POLICY_OPERATOR_SIGNATURE });
    expect(longer.message).toContain('does not verify');
    expect(await polaris({ hosts: [SIGNED_SN], method: 'sync.bash', cmd, opsig })).toMatchObject({
      resp: 'success',
      retcode: 0,
      data: 'signed\n',
    });
    expect(readFileSync(marker, 'utf8')).toBe('run\n');
    // The same signature again (a new request, a new frame id): a replay, refused; it ran once.
    const replay = await polaris({ hosts: [SIGNED_SN], method: 'sync.bash', cmd, opsig });
    expect(replay).toMatchObject({ resp: 'failed', retcode: ErrorCode.POLICY_OPERATOR_SIGNATURE });
    expect(replay.message).toContain('already used');
    expect(readFileSync(marker, 'utf8')).toBe('run\n');

    const other = join(work, 'tampered-ran');
    const tampered = await polaris({ hosts: [SIGNED_SN], method: 'sync.bash', cmd: `touch ${other}`, opsig });
    expect(tampered).toMatchObject({ resp: 'failed', retcode: ErrorCode.POLICY_OPERATOR_SIGNATURE });
    expect(tampered.message).toContain('does not verify');
    const foreign = signOperatorCommand(
      stranger.privateKey,
      { method: 'sync.bash', cmd: `touch ${other}` },
      [SIGNED_SN],
      exp(),
    );
    expect(
      await polaris({ hosts: [SIGNED_SN], method: 'sync.bash', cmd: `touch ${other}`, opsig: foreign }),
    ).toMatchObject({ retcode: ErrorCode.POLICY_OPERATOR_SIGNATURE });
    const expired = signOperatorCommand(
      operator.privateKey,
      { method: 'sync.bash', cmd: `touch ${other}` },
      [SIGNED_SN],
      Math.floor(Date.now() / 1000) - 5,
    );
    const e = await polaris({ hosts: [SIGNED_SN], method: 'sync.bash', cmd: `touch ${other}`, opsig: expired });
    expect(e.message).toContain('expired');
    const elsewhere = signOperatorCommand(
      operator.privateKey,
      { method: 'sync.bash', cmd: `touch ${other}` },
      [STRICT_SN],
      exp(),
    );
    expect(
      (await polaris({ hosts: [SIGNED_SN], method: 'sync.bash', cmd: `touch ${other}`, opsig: elsewhere })).message,
    ).toContain('does not name this host');
    expect(existsSync(other)).toBe(false);
  });

  it('task.add: the operator signature covers the task name; the signed one is stored', async () => {
    const line = `0 0 0 1 1 * root echo task`;
    const opsig = signOperatorCommand(
      operator.privateKey,
      { method: 'task.add', name: 'signed-task', line },
      [SIGNED_SN],
      exp(),
    );
    const renamed = await srv.api('POST', '/api/v1/server/polaris/tasks', {
      host: SIGNED_SN,
      name: 'renamed-task',
      line,
      opsig,
    });
    expect(renamed.body.retcode, JSON.stringify(renamed.body)).toBe(ErrorCode.POLICY_OPERATOR_SIGNATURE);
    expect(renamed.body.response?.[0]?.message).toContain('does not verify');
    const ok = await srv.api('POST', '/api/v1/server/polaris/tasks', {
      host: SIGNED_SN,
      name: 'signed-task',
      line,
      opsig,
    });
    expect(ok.body.retcode, JSON.stringify(ok.body)).toBe(0);
    const list = await srv.api('GET', `/api/v1/server/polaris/tasks?host=${SIGNED_SN}`);
    const names = JSON.stringify(list.body.data?.tasks ?? []);
    expect(names).toContain('signed-task');
    expect(names).not.toContain('renamed-task');
  });
});

describe('a policy file that does not parse', () => {
  it('BasicAgent exits 2 naming the file and the line', async () => {
    const bad = policyFile(
      'broken.json',
      '{\n  "users": ["root"],\n  "commands": [{"exact": "uptime"}]\n  "collectors": ["os"]\n}\n',
    );
    const a = await startBasicAgent({
      port: srv.hubAddress!.port,
      caFile: ca.caCertFile,
      hostname: 'broken-host',
      config: { policy: bad },
      waitConnected: false,
    });
    const exit = await a.child.exited;
    expect(exit.code, a.child.output).toBe(2);
    expect(a.child.output).toContain(bad);
    expect(a.child.output).toMatch(/line 4 column 3: malformed JSON/);
  });

  it('BasicAgent exits 2 naming a bad key, and refuses a group-writable file', async () => {
    const badKey = policyFile('badkey.json', { commands: [{ glob: 'ls *' }] });
    const a = await startBasicAgent({
      port: srv.hubAddress!.port,
      caFile: ca.caCertFile,
      hostname: 'badkey-host',
      config: { policy: badKey },
      waitConnected: false,
    });
    expect((await a.child.exited).code).toBe(2);
    expect(a.child.output).toContain('commands[0]: must have exactly one of exact, prefix, pattern');
    const writable = policyFile('writable.json', {});
    chmodSync(writable, 0o664);
    const b = await startBasicAgent({
      port: srv.hubAddress!.port,
      caFile: ca.caCertFile,
      hostname: 'writable-host',
      config: { policy: writable },
      waitConnected: false,
    });
    expect((await b.child.exited).code).toBe(2);
    expect(b.child.output).toContain('must not be writable by group or others (mode 0664');
  });
});

describe('BootAgent with a strict policy file', () => {
  let agentsn: string;

  async function task(command: string, parameters: Record<string, unknown>) {
    const created = await srv.api('POST', '/api/v1/server/task', { command, agents: [agentsn], parameters });
    expect(created.body.status, JSON.stringify(created.body)).toBe(0);
    return waitUntil(
      async () => {
        const r = await srv.api('GET', `/api/v1/server/task?id=${created.body.id}`);
        const s = r.body.subtasks?.[0];
        return s && ['SUCCESS', 'FAILED', 'BURIED', 'REVOKED'].includes(s.state) ? s : undefined;
      },
      { timeoutMs: 40_000, what: `${command} task final` },
    ) as Promise<{ state: string; errcode: number; message: string }>;
  }

  beforeAll(async () => {
    const policy = policyFile('boot-policy.json', {
      actions: ['install', 'upgrade', 'restart', 'start', 'stop'],
      sources: ['http://127.0.0.1:1/pkgs/'],
    });
    boot = await startBoot({
      serverUrl: srv.url,
      enrollSecret: srv.enrollSecret,
      step: 0.3 as number,
      config: { policy },
    });
    agentsn = (await waitUntil(() => (boot!.readMeta()?.trusted ? boot!.readMeta() : undefined), {
      timeoutMs: 30_000,
      what: 'trusted',
    }))!.agentsn;
  });

  it('a job with a forbidden action gets a failed result with POLICY_REFUSED and a refused event', async () => {
    const sub = await task('uninstall', { name: 'Anything' });
    expect(['FAILED', 'BURIED']).toContain(sub.state);
    expect(sub.errcode).toBe(ErrorCode.POLICY_REFUSED);
    expect(sub.message).toContain('action "uninstall" is not allowed');
    const events = await waitUntil(
      async () => {
        const r = await srv.api('GET', `/api/v1/server/event?agentsn=${agentsn}&kind=refused&limit=100`);
        const list = (r.body.events ?? []) as { message: string }[];
        return list.some((e) => e.message.includes('uninstall')) ? list : undefined;
      },
      { timeoutMs: 20_000, what: 'refused event on the server' },
    );
    expect(events.length).toBeGreaterThan(0);
  });

  it('a job from a forbidden source (command://) is refused and nothing ran; an allowed action goes through', async () => {
    const marker = join(work, 'boot-ran');
    const sub = await task('install', { name: 'Pwn', version: '1.0.0', url: `command://touch ${marker}` });
    expect(['FAILED', 'BURIED']).toContain(sub.state);
    expect(sub.errcode).toBe(ErrorCode.POLICY_REFUSED);
    expect(sub.message).toContain('source "command://');
    expect(existsSync(marker)).toBe(false);
    // Allowed by the policy, so it reaches the sub-agent manager, which has no such agent.
    const restart = await task('restart', { name: 'NotInstalled' });
    expect(restart.errcode).toBe(ErrorCode.JOB_NOT_INSTALLED);
  });

  it('boot exits 2 on a policy file with a syntax error, naming the file and the line', async () => {
    const bad = policyFile('boot-broken.json', '{\n  "actions": ["install",]\n}\n');
    const b = await startBoot({ serverUrl: srv.url, config: { policy: bad }, waitReady: false });
    const exit = await b.child.exited;
    b.cleanup();
    expect(exit.code, b.child.output).toBe(2);
    expect(b.child.output).toContain(bad);
    expect(b.child.output).toMatch(/host policy: line 2 column \d+: malformed JSON/);
  });
});
