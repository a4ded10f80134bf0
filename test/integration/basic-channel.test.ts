import { existsSync, readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@aspire/protocol';
import { makeTestCa, startAspire, startBasicAgent, waitUntil, type AspireHandle, type BasicAgentHandle, type TestCa } from '@aspire/testing';

// Real server with its TLS command hub, two real BasicAgents, commands through the REST API.
let ca: TestCa;
let otherCa: TestCa;
let srv: AspireHandle;
const agents: BasicAgentHandle[] = [];

const polaris = (body: Record<string, unknown>) => srv.api('POST', '/api/v1/server/polaris', body);
const bash = async (host: string, cmd: string, extra: Record<string, unknown> = {}) => {
  const r = await polaris({ id: `t-${Math.random()}`, hosts: [host], method: 'sync.bash', cmd, ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.response[0];
};

beforeAll(async () => {
  ca = makeTestCa();
  otherCa = makeTestCa({ cn: 'Someone else' });
  srv = await startAspire({ hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile } });
  const port = srv.hubAddress!.port;
  agents.push(await startBasicAgent({ port, caFile: ca.caCertFile, hostname: 'host-a', agentsn: 'eccb24a7-fe55-4d84-9c40-6a9192419ae9' }));
  agents.push(await startBasicAgent({ port, caFile: ca.caCertFile, hostname: 'host-b', config: { concurrency: 2, queueMax: 1 } }));
});

afterAll(async () => {
  for (const a of agents) await a.stop();
  await srv?.stop();
  ca?.cleanup();
  otherCa?.cleanup();
});

describe('Polaris sync.bash through the command hub', () => {
  it('answers one entry per host: two connected agents and one unknown host (seed 001)', async () => {
    const id = '2719cb14-2da6-44a0-8349-1ea33b3ab2d9';
    const r = await polaris({ id, hosts: ['no-such-host', 'eccb24a7-fe55-4d84-9c40-6a9192419ae9', 'host-b'], method: 'sync.bash', cmd: 'ls /' });
    expect(r.status).toBe(200);
    expect(r.body.id).toBe(id);
    expect(r.body.response).toHaveLength(3);
    expect(r.body.response[0]).toEqual({ host: 'no-such-host', resp: 'failed', retcode: 203, message: 'No such host' });
    for (const e of r.body.response.slice(1)) {
      expect(e).toMatchObject({ resp: 'success', retcode: 0, message: 'Normal termination' });
      expect(e.data.split('\n')).toContain('etc');
    }
    expect(r.body.response[1].host).toBe('eccb24a7-fe55-4d84-9c40-6a9192419ae9');
    expect(r.body.response[2].host).toBe('host-b');
  });

  it('exit 3 is success with retcode 3', async () => {
    expect(await bash('host-a', 'echo out; echo err >&2; exit 3')).toMatchObject({ resp: 'success', retcode: 3, data: 'out\nerr\n' });
  });

  it('kills a 5 s sleep at timeout 1 with the whole process group, SIGTERM-trapping child included', async () => {
    const pidFile = join(agents[0]!.dir, 'child.pid');
    const t0 = Date.now();
    const e = await bash(
      'host-a',
      `trap '' 2 15; (trap '' 15; echo $BASHPID > ${pidFile}; sleep 5; echo survived) & sleep 5; echo done`,
      { timeout: 1 },
    );
    expect(e.resp).toBe('failed');
    expect(e.retcode).toBe(ErrorCode.EXEC_TIMEOUT);
    expect(e.data ?? '').not.toMatch(/survived|done/);
    // killIntervalMs 300 in the test config: 3 SIGTERMs then SIGKILL, about 2 s in all. The
    // bound is loose for a loaded machine; "done"/"survived" above prove nothing ran to the end.
    expect(Date.now() - t0).toBeLessThan(8000);
    const childPid = Number(readFileSync(pidFile, 'utf8'));
    expect(() => process.kill(childPid, 0)).toThrow();
  });

  it('caps 1 MB of output at 64 KiB and says so', async () => {
    const e = await bash('host-b', "head -c 1048576 /dev/zero | tr '\\0' a");
    expect(e).toMatchObject({ resp: 'success', retcode: 0, truncated: true, dropped: 1048576 - 65536 });
    expect(e.data).toHaveLength(65536);
  });

  it('runs as the requested user; an unknown user is an error code', async () => {
    const nobody = execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim();
    expect(await bash('host-a', 'id -u; id -g', { user: 'nobody', group: 'nogroup' })).toMatchObject({
      resp: 'success',
      data: `${nobody}\n${execFileSync('getent', ['group', 'nogroup'], { encoding: 'utf8' }).split(':')[2]}\n`,
    });
    expect(await bash('host-a', 'id -u', { user: 'no-such-user-xyz' })).toMatchObject({ resp: 'failed', retcode: ErrorCode.EXEC_UNKNOWN_USER });
    expect(await bash('host-a', 'id -u', { group: 'no-such-group-xyz' })).toMatchObject({ resp: 'failed', retcode: ErrorCode.EXEC_UNKNOWN_GROUP });
    // Supplementary groups are the user's, as after a login (`id -Gn USER` from the group file).
    const member = execFileSync('getent', ['group'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(':'))
      .find((f) => f[3] && f[3].split(',')[0] !== 'root')?.[3]?.split(',')[0];
    if (member) {
      const want = execFileSync('id', ['-Gn', member], { encoding: 'utf8' }).trim().split(/\s+/).sort();
      const got = await bash('host-a', 'id -Gn', { user: member });
      expect(got.data.trim().split(/\s+/).sort()).toEqual(want);
    }
  });

  it('runs commands concurrently up to the limit, queues one, refuses the rest with EXEC_BUSY', async () => {
    // host-b: concurrency 2, queueMax 1. Four 1 s sleeps at once: 2 run, 1 waits, 1 is refused.
    const t0 = Date.now();
    const r = await Promise.all([1, 2, 3, 4].map(() => bash('host-b', 'sleep 1; echo ok')));
    const busy = r.filter((e) => e.retcode === ErrorCode.EXEC_BUSY);
    const ok = r.filter((e) => e.resp === 'success');
    expect(busy).toHaveLength(1);
    expect(ok).toHaveLength(3);
    // The queued one ran after a slot freed: about 2 s in all, not 1 s and not 3 s.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
  });

  it('getinfo.kernel through the channel answers what uname says', async () => {
    const r = await polaris({ hosts: ['host-b'], method: 'getinfo.kernel' });
    const k = r.body.response[0];
    expect(k.resp).toBe('success');
    expect(k.data.release).toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
    const bad = await polaris({ hosts: ['host-b'], method: 'getinfo.users', args: '-Z' });
    expect(bad.body.response[0]).toMatchObject({ resp: 'failed', retcode: ErrorCode.COLLECTOR_BAD_ARGUMENT });
    const unknown = await polaris({ hosts: ['host-b'], method: 'getinfo.nothing' });
    expect(unknown.body.response[0]).toMatchObject({ resp: 'failed', retcode: ErrorCode.COLLECTOR_UNKNOWN });
  });

  it('refuses a bad request with the envelope, and an unauthenticated one', async () => {
    expect((await polaris({ hosts: [], method: 'sync.bash', cmd: 'ls' })).status).toBe(400);
    expect((await polaris({ hosts: ['host-a'], method: 'rm.rf', cmd: 'ls' })).status).toBe(400);
    expect((await srv.api('POST', '/api/v1/server/polaris', { hosts: ['host-a'], method: 'sync.bash', cmd: 'id' }, { token: null })).status).toBe(401);
  });
});

describe('the hub refuses bad clients without disturbing connected agents', () => {
  it('wrong CA, plaintext and garbage frames', async () => {
    const port = srv.hubAddress!.port;
    // A client that trusts another CA refuses the server's certificate.
    const wrongCa = await new Promise<string>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: otherCa.caCert });
      s.on('secureConnect', () => resolve('connected'));
      s.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
    });
    expect(wrongCa).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
    // A real BasicAgent with the wrong CA never connects.
    const bad = await startBasicAgent({ port, caFile: otherCa.caCertFile, hostname: 'host-wrong-ca', waitConnected: false });
    agents.push(bad);
    await bad.child.waitForLine(/unable to (verify|get local issuer)|certificate/i, 20_000);
    expect(bad.child.output).not.toMatch(/channel: connected/);

    // Plaintext: the TLS server drops it.
    const plain = await new Promise<string>((resolve) => {
      const s = netConnect(port, '127.0.0.1', () => s.write('{"method":"init","hostname":"plain"}\n'));
      let got = '';
      s.on('data', (d) => (got += d.toString('latin1')));
      s.on('close', () => resolve(got.includes('accept') ? 'accepted' : 'closed'));
      s.on('error', () => {});
    });
    expect(plain).toBe('closed');

    // Garbage as the first frame, and garbage after a valid init.
    const talk = (lines: string[]) =>
      new Promise<string>((resolve) => {
        const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.caCert }, () => {
          for (const l of lines) s.write(`${l}\n`);
        });
        let got = '';
        s.on('data', (d) => (got += d.toString()));
        s.on('close', () => resolve(got));
        s.on('error', () => {});
        setTimeout(() => s.end(), 1500);
      });
    const first = await talk(['\u0000\u0001garbage{{{']);
    expect(first).not.toMatch(/accept/);
    const after = await talk(['{"method":"init","hostname":"garbage-host"}', 'not json at all', '{"resp":"success"}']);
    expect(after).toMatch(/"method":"accept"/);
    expect(after).toMatch(/"retcode":3021/);

    const list = await srv.api('GET', '/api/v1/server/polaris/agents');
    expect(list.body.agents.map((a: { hostname: string }) => a.hostname).sort()).toEqual(['host-a', 'host-b']);
    const r = await polaris({ hosts: ['host-a', 'host-b'], method: 'sync.bash', cmd: 'echo still-here' });
    expect(r.body.response.map((e: { data: string }) => e.data)).toEqual(['still-here\n', 'still-here\n']);
  });
});
