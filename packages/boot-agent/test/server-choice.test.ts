import { describe, expect, it } from 'vitest';
import { ManualClock } from '@aspire/testing';
import { FAILED_SERVER_HOLD_MS, ServerChoice, rotateFor, stableHash } from '../src/net/server-choice.ts';
import { serverGroups, serverUrls } from '../src/net/server-list.ts';

// Status pushes spread over the nodes of one list (docs/scale.md): each host starts at a place
// fixed by its agentsn and fails over down the list; a failed server is tried last for a while.

const NODES = ['http://n1:8080', 'http://n2:8080', 'http://n3:8080'];
const retry = { kind: 'retry' as const, reason: 'connect ECONNREFUSED' };
const ok = { kind: 'ok' as const, status: 200, value: {} };

describe('server choice', () => {
  it('is stable per host and spreads many hosts over every node, each list a rotation of the whole', () => {
    const firsts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const key = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      const order = rotateFor(NODES, key);
      expect(rotateFor(NODES, key)).toEqual(order);
      expect([...order].sort()).toEqual(NODES);
      // A rotation: the next server after a failure is the next one of the list.
      const at = NODES.indexOf(order[0]!);
      expect(order).toEqual([...NODES.slice(at), ...NODES.slice(0, at)]);
      firsts.set(order[0]!, (firsts.get(order[0]!) ?? 0) + 1);
    }
    // Each node gets about a third (1000 each); far from all on the first.
    for (const n of NODES) expect(firsts.get(n) ?? 0).toBeGreaterThan(800);
    expect(stableHash('a')).not.toBe(stableHash('b'));
    expect(rotateFor(['only'], 'x')).toEqual(['only']);
    expect(rotateFor([], 'x')).toEqual([]);
  });

  it('tries a server that failed (transport) last until the hold has passed, then the host goes back to it', async () => {
    const clock = new ManualClock();
    const c = new ServerChoice(clock);
    const key = 'host-a';
    const own = c.order([NODES], key);
    c.note(own[0]!, retry);
    const after = c.order([NODES], key);
    expect(after).toEqual([...own.slice(1), own[0]]);
    await clock.advance(FAILED_SERVER_HOLD_MS - 1);
    expect(c.order([NODES], key)[0]).toBe(own[1]);
    await clock.advance(1);
    expect(c.order([NODES], key)).toEqual(own);
  });

  it('a refusal (4xx) or an answer is not a failure of the server', () => {
    const c = new ServerChoice(new ManualClock());
    const own = c.order([NODES], 'host-b');
    c.note(own[0]!, { kind: 'fatal', reason: '401', status: 401 });
    expect(c.order([NODES], 'host-b')).toEqual(own);
    c.note(own[0]!, retry);
    expect(c.order([NODES], 'host-b')[0]).not.toBe(own[0]);
    expect(c.note(own[0]!, ok)).toBe(ok);
    expect(c.order([NODES], 'host-b')).toEqual(own);
  });

  it('spreads within one source and keeps the sources in order (a pushed list stays the fallback)', () => {
    const src = { build: '', servers: ['n1:8080', 'n2:8080', 'n3:8080'], configured: [], pushed: ['spare:8080'] };
    expect(serverGroups(src)).toEqual([NODES, ['http://spare:8080']]);
    expect(serverUrls(src)).toEqual([...NODES, 'http://spare:8080']);
    const c = new ServerChoice(new ManualClock());
    for (const key of ['k1', 'k2', 'k3', 'k4', 'k5', 'k6']) {
      const order = c.order(serverGroups(src), key);
      expect(order.at(-1)).toBe('http://spare:8080');
      expect([...order.slice(0, 3)].sort()).toEqual(NODES);
    }
  });
});
