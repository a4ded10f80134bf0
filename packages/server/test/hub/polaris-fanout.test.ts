import { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@aspire/agent-core';
import {
  canonicalJson,
  createSigner,
  ErrorCode,
  FrameDecoder,
  generateSigningKeyPem,
  parsePublicKey,
  verifySigned,
} from '@aspire/protocol';
import { ManualClock } from '@aspire/testing';
import { AgentConnection } from '../../src/hub/agent-connection.ts';
import { AgentRegistry } from '../../src/hub/agent-registry.ts';
import type { CommandHub } from '../../src/hub/command-hub.ts';
import { batchFrameSigner, startFrameSignWorker } from '../../src/hub/frame-sign-worker.ts';
import { BATCH_SIGN_MIN_HOSTS, canonicalFrames, fanOut } from '../../src/hub/polaris-fanout.ts';

/** A socket that plays a BasicAgent: answers every sync.bash frame with its own target in data. */
class AgentSocket extends EventEmitter {
  frames: Record<string, unknown>[] = [];
  destroyed = false;
  silent = false;
  write(s: string) {
    for (const line of s.split('\n').filter(Boolean)) {
      const f = JSON.parse(line) as Record<string, unknown>;
      this.frames.push(f);
      if (this.silent) continue;
      const reply = { id: f.id, resp: 'success', retcode: 0, message: 'Normal termination', data: String(f.agentsn) };
      queueMicrotask(() => this.emit('data', Buffer.from(`${JSON.stringify(reply)}\n`)));
    }
    return true;
  }
  destroy() {
    this.destroyed = true;
  }
}

const signer = createSigner(generateSigningKeyPem());
const frameSigner = batchFrameSigner(signer)!;
afterAll(() => frameSigner.close());

function hubOf(n: number, withBatchSigner: boolean) {
  const registry = new AgentRegistry();
  const sockets: AgentSocket[] = [];
  const clock = new ManualClock();
  for (let i = 0; i < n; i++) {
    const socket = new AgentSocket();
    sockets.push(socket);
    const conn = new AgentConnection(
      socket as unknown as TLSSocket,
      new FrameDecoder(),
      `h${i}`,
      `sn${i}`,
      '1.0',
      'test',
      {
        clock,
        logger: silentLogger(),
        idleTimeoutMs: 600_000,
        maxBadFrames: 3,
        onTaskResult: () => undefined,
        onClose: (c) => registry.remove(c),
        signer,
      },
    );
    registry.add(conn);
  }
  const hub = {
    registry,
    clock,
    options: { replyGraceMs: 5000, defaultDeadlineMs: 30_000 },
    ...(withBatchSigner ? { frameSigner } : {}),
  } as unknown as CommandHub;
  return { hub, sockets, clock };
}

describe('polaris fan-out', () => {
  const key = parsePublicKey(signer.publicKey)!;
  for (const [what, n, batch] of [
    ['each frame signed as sent', 3, true],
    ['frames signed in batches, by the worker and the event loop in turn', BATCH_SIGN_MIN_HOSTS * 9 + 7, true],
    ['no batch signer: each frame signed as sent', BATCH_SIGN_MIN_HOSTS + 1, false],
  ] as const) {
    it(`${what}: every host gets one frame signed for it alone and answers in order`, async () => {
      const { hub, sockets, clock } = hubOf(n, batch);
      const hosts = [...Array.from({ length: n }, (_, i) => `h${i}`), 'nobody'];
      const out = await fanOut(hub, { hosts, method: 'sync.bash', cmd: 'true', timeout: 10 }, 'req-1');
      if ('error' in out) throw new Error(out.error);
      expect(out.map((r) => r.host)).toEqual(hosts);
      expect(out.slice(0, n).map((r) => r.data)).toEqual(hosts.slice(0, n).map((h) => `sn${h.slice(1)}`));
      expect(out[n]).toMatchObject({ host: 'nobody', resp: 'failed' });
      const ids = new Set<unknown>();
      sockets.forEach((s, i) => {
        expect(s.frames).toHaveLength(1);
        const f = s.frames[0]!;
        ids.add(f.id);
        expect(f).toMatchObject({ method: 'sync.bash', cmd: 'true', timeout: 10 });
        expect(verifySigned('frame', f, { keys: [key], agentsn: `sn${i}`, nowMs: clock.now() })).toMatchObject({
          ok: true,
        });
        if (i > 3) return;
        // Addressed to one host: another refuses it; changed content fails the signature.
        expect(verifySigned('frame', f, { keys: [key], agentsn: `sn${i + 1}`, nowMs: clock.now() })).toMatchObject({
          ok: false,
          code: 'SIGNATURE_WRONG_TARGET',
        });
        expect(
          verifySigned('frame', { ...f, cmd: 'rm -rf /' }, { keys: [key], agentsn: `sn${i}`, nowMs: clock.now() }),
        ).toMatchObject({ ok: false, code: 'SIGNATURE_INVALID' });
      });
      expect(ids.size).toBe(n);
    });
  }

  it('hosts that never answer time out together at the deadline on one timer', async () => {
    const { hub, sockets, clock } = hubOf(4, false);
    for (const s of sockets.slice(1)) s.silent = true;
    const p = fanOut(hub, { hosts: ['h0', 'h1', 'h2', 'h3'], method: 'sync.bash', cmd: 'true', timeout: 10 }, 'r');
    await new Promise((r) => setTimeout(r, 10));
    // The fan-out's one timer for the three silent hosts (each connection also has its idle timer).
    expect(clock.pending).toBe(4 + 1);
    await clock.advance(10_000 + 5000 - 1);
    expect(sockets.map((s) => s.frames.length)).toEqual([1, 1, 1, 1]);
    await clock.advance(1);
    const out = await p;
    if ('error' in out) throw new Error(out.error);
    expect(out.map((r) => r.retcode)).toEqual([
      0,
      ErrorCode.CHANNEL_TIMEOUT,
      ErrorCode.CHANNEL_TIMEOUT,
      ErrorCode.CHANNEL_TIMEOUT,
    ]);
    expect(clock.pending).toBe(4);
  });

  it('canonical frames for many hosts are canonicalJson of each signed form', () => {
    for (const frame of [
      { id: 'caller', method: 'sync.bash', cmd: 'true', timeout: 60 },
      { id: 'c', method: 'task.add', name: 'n', line: '* * * * * x', opsig: { z: 1, a: ['b', { y: null }] } },
      { id: 'c', method: 'sync.bash', cmd: '"id":"\u0000id"', sig: 'dropped' },
      { id: 'c', method: 'x', opsig: { id: '\u0000id', expires: '\u0000expires' }, zz: 'é\n' },
    ]) {
      const make = canonicalFrames(frame, 'kid1');
      const { sig: _sig, ...rest } = frame as Record<string, unknown>;
      for (const [id, sn, exp] of [
        ['a.1.1', 'sn-1', 1_790_000_000_123],
        ['b"q', 'x\\y', 0],
      ] as const) {
        expect(make(id, sn, exp)).toBe(canonicalJson({ ...rest, id, agentsn: sn, expires: exp, kid: 'kid1' }));
      }
    }
  });

  it('the worker signs exactly what Signer.signText signs, in order', async () => {
    const worker = startFrameSignWorker(signer.privateKey!);
    const texts = ['{"a":1}', '{"b":"é"}', '{}'];
    expect(await worker.sign(texts)).toEqual(texts.map((t) => signer.signText('frame', t)));
    await worker.close();
    await expect(worker.sign(texts)).rejects.toThrow(/closed/);
  });

  it('a closed signer still signs a batch (on the event loop)', async () => {
    const other = batchFrameSigner(signer)!;
    await other.close();
    const [sig] = await other.sign(['{"a":1}']);
    expect(sig).toBe(signer.signText('frame', '{"a":1}'));
  });
});
