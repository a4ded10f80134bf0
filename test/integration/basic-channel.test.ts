import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as tlsCreateServer, type TLSSocket } from 'node:tls';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, createSigner, generateSigningKeyPem } from '@aspire/protocol';
import {
  enrollHost,
  makeTestCa,
  startAspire,
  startBasicAgent,
  waitUntil,
  type AspireHandle,
  type BasicAgentHandle,
  type TestCa,
} from '@aspire/testing';

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
  agents.push(
    await startBasicAgent({
      port,
      caFile: ca.caCertFile,
      hostname: 'host-a',
      agentsn: 'eccb24a7-fe55-4d84-9c40-6a9192419ae9',
    }),
  );
  agents.push(
    await startBasicAgent({ port, caFile: ca.caCertFile, hostname: 'host-b', config: { concurrency: 2, queueMax: 1 } }),
  );
});

afterAll(async () => {
  for (const a of agents) await a.stop();
  await srv?.stop();
  ca?.cleanup();
  otherCa?.cleanup();
});

describe('Polaris sync.bash through the command hub', () => {
  it('answers one entry per host: two connected agents and one unknown host (docs/design.md §5)', async () => {
    const id = '2719cb14-2da6-44a0-8349-1ea33b3ab2d9';
    const r = await polaris({
      id,
      hosts: ['no-such-host', 'eccb24a7-fe55-4d84-9c40-6a9192419ae9', 'host-b'],
      method: 'sync.bash',
      cmd: 'ls /',
    });
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
    expect(await bash('host-a', 'echo out; echo err >&2; exit 3')).toMatchObject({
      resp: 'success',
      retcode: 3,
      data: 'out\nerr\n',
    });
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

  it('refuses a timeout out of 1..86400 s at the Polaris edge, before any host sees it', async () => {
    for (const timeout of [-1, 0, 0.5, 86_401, 1e12]) {
      const r = await polaris({ hosts: ['host-a'], method: 'sync.bash', cmd: 'echo ran', timeout });
      expect(r.status, String(timeout)).toBe(400);
      expect(r.body.cause).toMatch(/timeout: must be a number of seconds from 1 to 86400/);
    }
    expect(await bash('host-a', 'echo ran', { timeout: 1 })).toMatchObject({ resp: 'success', data: 'ran\n' });
    expect(await bash('host-a', 'echo ran', { timeout: 86_400 })).toMatchObject({ resp: 'success', data: 'ran\n' });
  });

  it('1 GB of output: 64 KiB kept, the rest counted, quickly, and the agent does not grow', async () => {
    const agent = agents[1]!;
    const rssKb = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${agent.child.pid}/status`, 'utf8'))![1]);
    // Warm the path once, then measure around the big one.
    await bash('host-b', 'head -c 200000 /dev/zero');
    const before = rssKb();
    const t0 = Date.now();
    const e = await bash('host-b', 'head -c 1000000000 /dev/zero');
    const took = Date.now() - t0;
    expect(e).toMatchObject({ resp: 'success', retcode: 0, truncated: true, dropped: 1_000_000_000 - 65536 });
    expect(e.data).toHaveLength(65536);
    // Writing 1 GB through a pipe takes a few seconds on a loaded machine; generous bound.
    expect(took).toBeLessThan(90_000);
    expect(rssKb() - before, `RSS before ${before} kB`).toBeLessThan(10 * 1024);
  }, 120_000);

  it('runs as the requested user; an unknown user is an error code', async () => {
    const nobody = execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim();
    expect(await bash('host-a', 'id -u; id -g', { user: 'nobody', group: 'nogroup' })).toMatchObject({
      resp: 'success',
      data: `${nobody}\n${execFileSync('getent', ['group', 'nogroup'], { encoding: 'utf8' }).split(':')[2]}\n`,
    });
    expect(await bash('host-a', 'id -u', { user: 'no-such-user-xyz' })).toMatchObject({
      resp: 'failed',
      retcode: ErrorCode.EXEC_UNKNOWN_USER,
    });
    expect(await bash('host-a', 'id -u', { group: 'no-such-group-xyz' })).toMatchObject({
      resp: 'failed',
      retcode: ErrorCode.EXEC_UNKNOWN_GROUP,
    });
    // Supplementary groups are the user's, as after a login (`id -Gn USER` from the group file).
    const member = execFileSync('getent', ['group'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(':'))
      .find((f) => f[3] && f[3].split(',')[0] !== 'root')?.[3]
      ?.split(',')[0];
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
    expect(
      (
        await srv.api(
          'POST',
          '/api/v1/server/polaris',
          { hosts: ['host-a'], method: 'sync.bash', cmd: 'id' },
          { token: null },
        )
      ).status,
    ).toBe(401);
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
    const bad = await startBasicAgent({
      port,
      caFile: otherCa.caCertFile,
      hostname: 'host-wrong-ca',
      waitConnected: false,
    });
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

    // Garbage as the first frame, and garbage after a valid init (from a host with its certificate).
    const garbageHost = await enrollHost([srv], {
      hostname: 'garbage-host',
      dir: mkdtempSync(join(tmpdir(), 'garbage-host-')),
    });
    const identity = {
      cert: readFileSync(garbageHost.certFile, 'utf8'),
      key: readFileSync(garbageHost.keyFile, 'utf8'),
    };
    const talk = (lines: string[]) =>
      new Promise<string>((resolve) => {
        const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.caCert, ...identity }, () => {
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

// A stand-in hub (real TLS, the test CA's server certificate, frames signed with a key the agent
// pins) that sends a real BasicAgent frames the server's Polaris edge would never let through:
// the agent's own check answers.
describe('the BasicAgent refuses a sync.bash timeout out of range itself', () => {
  it('answers INVALID_PARAMS (3021) for -1, 0 and 1e12 and runs nothing; 1 s runs', async () => {
    const marker = join(ca.dir, `ran-${process.pid}`);
    const replies = new Map<string, { resp: string; retcode: number; message: string; data?: string }>();
    let agentSocket: TLSSocket | undefined;
    let target = '';
    const signer = createSigner(generateSigningKeyPem());
    let buf = '';
    const hub = tlsCreateServer({ cert: readFileSync(ca.serverCertFile), key: readFileSync(ca.serverKeyFile) }, (s) => {
      s.setEncoding('utf8');
      s.on('error', () => {});
      s.on('data', (d: string) => {
        buf += d;
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const f = JSON.parse(buf.slice(0, i));
          buf = buf.slice(i + 1);
          if (f.method === 'init') {
            target = f.agentsn || f.hostname;
            agentSocket = s;
            s.write(`${JSON.stringify({ method: 'accept' })}\n`);
          } else if (f.method === 'ping') s.write(`${JSON.stringify({ method: 'pong', ts: f.ts })}\n`);
          else if (typeof f.id === 'string' && f.resp) replies.set(f.id, f);
        }
      });
    });
    await new Promise<void>((r) => hub.listen(0, '127.0.0.1', () => r()));
    const port = (hub.address() as { port: number }).port;
    const agent = await startBasicAgent({
      port,
      serverHost: '127.0.0.1',
      caFile: ca.caCertFile,
      hostname: 'host-direct',
      signingKeys: [signer.publicKey],
      identity: null,
    });
    try {
      await waitUntil(() => agentSocket !== undefined, { timeoutMs: 20_000, what: 'the agent init' });
      const cases: [string, unknown][] = [
        ['t-neg', -1],
        ['t-zero', 0],
        ['t-huge', 1e12],
        ['t-ok', 1],
      ];
      for (const [id, timeout] of cases) {
        const frame = signer.sign(
          'frame',
          { id, method: 'sync.bash', cmd: `echo ${id} >> ${marker}; echo ok`, timeout },
          target,
          Date.now() + 60_000,
        );
        agentSocket!.write(`${JSON.stringify(frame)}\n`);
      }
      await waitUntil(() => replies.size === cases.length, { timeoutMs: 30_000, what: 'four replies' });
      for (const id of ['t-neg', 't-zero', 't-huge']) {
        expect(replies.get(id), id).toMatchObject({ resp: 'failed', retcode: ErrorCode.INVALID_PARAMS });
        expect(replies.get(id)!.message).toMatch(
          /^Invalid params: \/timeout: must be a number of seconds from 1 to 86400/,
        );
      }
      expect(replies.get('t-ok')).toMatchObject({ resp: 'success', retcode: 0, data: 'ok\n' });
      // Only the valid one ran.
      expect(readFileSync(marker, 'utf8')).toBe('t-ok\n');
    } finally {
      await agent.stop();
      hub.close();
    }
  });
});

describe('the BasicAgent log', () => {
  it('has no line with a repeated key (the start line once carried "pid" twice)', () => {
    const lines = agents[0]!.child.lines.filter((l) => l.startsWith('{'));
    expect(lines.some((l) => l.includes('"BasicAgent started"'))).toBe(true);
    for (const line of lines) {
      expect(JSON.parse(line)).toBeTruthy();
      expect(duplicateKeys(line), line).toEqual([]);
      expect(line.match(/"pid":/g)?.length ?? 0, line).toBeLessThanOrEqual(1);
    }
  });
});

/** Keys that occur twice in the same object of a JSON text (JSON.parse keeps only the last). */
function duplicateKeys(text: string): string[] {
  const dups: string[] = [];
  const objects: (Set<string> | null)[] = [];
  let i = 0;
  const readString = (): string => {
    let out = '';
    i++; // opening quote
    while (text[i] !== '"') {
      if (text[i] === '\\') {
        out += text.slice(i, i + 2);
        i += 2;
      } else out += text[i++];
    }
    i++;
    return out;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '{') {
      objects.push(new Set());
      i++;
    } else if (c === '[') {
      objects.push(null);
      i++;
    } else if (c === '}' || c === ']') {
      objects.pop();
      i++;
    } else if (c === '"') {
      const s = readString();
      let j = i;
      while (text[j] === ' ') j++;
      const keys = objects[objects.length - 1];
      if (text[j] === ':' && keys) {
        if (keys.has(s)) dups.push(s);
        keys.add(s);
      }
    } else i++;
  }
  return dups;
}

describe('the hub bounds the TLS handshake like the init wait', () => {
  it('closes a TCP client that never starts TLS at the handshake deadline; an agent still connects', async () => {
    const quick = await startAspire({
      hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile, handshakeTimeoutMs: 1500 },
    });
    let agent: BasicAgentHandle | undefined;
    try {
      const port = quick.hubAddress!.port;
      const silent = (): Promise<number> =>
        new Promise((resolve, reject) => {
          const t0 = Date.now();
          const s = netConnect(port, '127.0.0.1');
          s.on('error', () => {});
          s.on('close', () => resolve(Date.now() - t0));
          // Far beyond the deadline (Node's own default would hold it 120 s): fail, do not hang.
          setTimeout(() => {
            s.destroy();
            reject(new Error('the hub kept a silent TCP connection for 30 s'));
          }, 30_000).unref();
        });
      const [a, b] = await Promise.all([silent(), silent()]);
      for (const ms of [a, b]) {
        expect(ms).toBeGreaterThanOrEqual(1400);
        expect(ms).toBeLessThan(15_000);
      }
      await waitUntil(() => /no TLS handshake in time/.test(quick.child.output), {
        what: 'the refusal in the server log',
      });
      agent = await startBasicAgent({ port, caFile: ca.caCertFile, hostname: 'host-quick' });
      const r = await quick.api('POST', '/api/v1/server/polaris', {
        hosts: ['host-quick'],
        method: 'sync.bash',
        cmd: 'echo here',
      });
      expect(r.body.response[0]).toMatchObject({ resp: 'success', data: 'here\n' });
    } finally {
      await agent?.stop();
      await quick.stop();
    }
  }, 90_000);
});
