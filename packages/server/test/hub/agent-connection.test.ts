import { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@aspire/agent-core';
import { ErrorCode, FrameDecoder } from '@aspire/protocol';
import { ManualClock } from '@aspire/testing';
import { AgentConnection } from '../../src/hub/agent-connection.ts';
import { AgentRegistry } from '../../src/hub/agent-registry.ts';

/** Just enough of a socket: records writes, lets the test play the agent. */
class FakeSocket extends EventEmitter {
  written: any[] = [];
  destroyed = false;
  write(s: string) {
    for (const l of s.split('\n').filter(Boolean)) this.written.push(JSON.parse(l));
    return true;
  }
  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
  send(frame: unknown) {
    this.emit('data', Buffer.from(typeof frame === 'string' ? `${frame}\n` : `${JSON.stringify(frame)}\n`));
  }
}

// `agentsn: undefined` given explicitly is a connection without an AgentSN (absent = 'sn1').
function setup(
  opts: { idleTimeoutMs?: number; maxBadFrames?: number; hostname?: string; agentsn?: string | undefined } = {},
) {
  const clock = new ManualClock();
  const socket = new FakeSocket();
  const results: unknown[] = [];
  let closed = 0;
  const conn = new AgentConnection(
    socket as unknown as TLSSocket,
    new FrameDecoder(),
    opts.hostname ?? 'h1',
    'agentsn' in opts ? opts.agentsn : 'sn1',
    '1.0',
    'test',
    {
      clock,
      logger: silentLogger(),
      idleTimeoutMs: opts.idleTimeoutMs ?? 60_000,
      maxBadFrames: opts.maxBadFrames ?? 3,
      onTaskResult: (_c, r) => results.push(r),
      onClose: () => closed++,
    },
  );
  return { clock, socket, conn, results, closed: () => closed };
}

describe('hub agent connection', () => {
  it('matches replies by hub id and hands back the caller id', async () => {
    const { socket, conn } = setup();
    const a = conn.request({ id: 'same', method: 'sync.bash', cmd: 'a' }, 5000);
    const b = conn.request({ id: 'same', method: 'sync.bash', cmd: 'b' }, 5000);
    const [fa, fb] = socket.written;
    expect(fa.id).not.toBe(fb.id);
    socket.send({ id: fb.id, resp: 'success', retcode: 0, message: 'Normal termination', data: 'B' });
    socket.send({ id: fa.id, resp: 'success', retcode: 1, message: 'Normal termination', data: 'A' });
    expect(await a).toMatchObject({ id: 'same', data: 'A', retcode: 1 });
    expect(await b).toMatchObject({ id: 'same', data: 'B' });
  });

  it('answers CHANNEL_TIMEOUT at the deadline and ignores the late reply', async () => {
    const { clock, socket, conn } = setup();
    const p = conn.request({ id: 'x', method: 'getinfo.kernel' }, 1000);
    await clock.advance(1000);
    expect(await p).toMatchObject({ id: 'x', resp: 'failed', retcode: ErrorCode.CHANNEL_TIMEOUT });
    socket.send({ id: socket.written[0].id, resp: 'success', retcode: 0, message: 'late' });
    expect(conn.inFlight).toBe(0);
  });

  it('answers pending requests CHANNEL_NOT_CONNECTED when the agent goes away', async () => {
    const { socket, conn, closed } = setup();
    const p = conn.request({ id: 'y', method: 'sync.bash', cmd: 'sleep 9' }, 60_000);
    socket.emit('close');
    expect(await p).toMatchObject({ id: 'y', retcode: ErrorCode.CHANNEL_NOT_CONNECTED });
    expect(closed()).toBe(1);
  });

  it('answers bad frames with 3021 and closes after too many; pings get pongs; task results go to the sink', () => {
    const { socket, results, closed } = setup({ maxBadFrames: 2 });
    socket.send({ method: 'ping', ts: 5 });
    expect(socket.written.at(-1)).toEqual({ method: 'pong', ts: 5 });
    socket.send({
      method: 'task.result',
      name: 't',
      started: 1,
      duration_ms: 2,
      retcode: 0,
      output: '',
      truncated: false,
    });
    expect(results).toHaveLength(1);
    socket.send('{{{ not json');
    expect(socket.written.at(-1)).toMatchObject({ resp: 'failed', retcode: ErrorCode.INVALID_PARAMS });
    expect(closed()).toBe(0);
    socket.send({ method: 'task.result', name: 't' });
    expect(closed()).toBe(1);
  });

  it('closes an idle connection', async () => {
    const { clock, socket, closed } = setup({ idleTimeoutMs: 1000 });
    await clock.advance(600);
    socket.send({ method: 'ping' });
    await clock.advance(600);
    expect(closed()).toBe(0);
    await clock.advance(1000);
    expect(closed()).toBe(1);
  });

  it('registry: one live connection per host, found by hostname or AgentSN', () => {
    const r = new AgentRegistry();
    const a = setup().conn;
    const b = setup().conn;
    expect(r.add(a)).toBeUndefined();
    expect(r.add(b)).toBe(a);
    expect(r.find('h1')).toBe(b);
    expect(r.find('sn1')).toBe(b);
    r.remove(a); // the old one leaving does not drop the new one
    expect(r.size).toBe(1);
    r.remove(b);
    expect(r.find('sn1')).toBeUndefined();
  });

  it('registry: same hostname, different AgentSNs (cloned VMs) both stay, the shared hostname is ambiguous; no AgentSN means hostname identity', () => {
    const r = new AgentRegistry();
    const a = setup({ hostname: 'localhost.localdomain', agentsn: 'sn-a' }).conn;
    const b = setup({ hostname: 'localhost.localdomain', agentsn: 'sn-b' }).conn;
    expect(r.add(a)).toBeUndefined();
    expect(r.add(b)).toBeUndefined();
    expect(r.size).toBe(2);
    expect(r.find('sn-a')).toBe(a);
    expect(r.find('sn-b')).toBe(b);
    expect(r.lookup('localhost.localdomain')).toEqual({ kind: 'ambiguous', count: 2 });
    expect(r.find('localhost.localdomain')).toBeUndefined();
    r.remove(b);
    expect(r.find('localhost.localdomain')).toBe(a);
    const c = setup({ hostname: 'plain', agentsn: undefined }).conn;
    const d = setup({ hostname: 'plain', agentsn: undefined }).conn;
    r.add(c);
    expect(r.add(d)).toBe(c);
    expect(r.find('plain')).toBe(d);
  });
});
