import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkClusterConfig, derivedNodeId } from '../../src/cluster/cluster-config.ts';
import { packMessages, parseBusPayload } from '../../src/cluster/bus-message.ts';
import { NOTIFY_MAX_BYTES, applicationNameOf, channelOf, parseBusMessage } from '../../src/cluster/node-bus.ts';
import { Placement, estimateLoad, pickRedirect, redirectMargin, type NodeLoad } from '../../src/cluster/placement.ts';
import { presenceIdentity } from '../../src/cluster/presence.ts';
import { cancelSpecOf, routedCancelFrame } from '../../src/hub/polaris-cancel.ts';

// What crosses into the cluster layer from outside (config, other nodes' NOTIFY payloads) is
// checked once at that edge; these are the pure parts (the routing itself: test/integration/cluster.test.ts).

describe('cluster config', () => {
  it('is absent unless configured, and takes nodeId, advertise, heartbeatMs and a URL from a file', () => {
    const problems: string[] = [];
    expect(checkClusterConfig(undefined, problems)).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), 'cluster-cfg-'));
    writeFileSync(join(dir, 'url'), 'postgres://aspire:secret@db:5432/aspire\n');
    const c = checkClusterConfig(
      { urlFile: join(dir, 'url'), nodeId: 'node-1', advertise: '10.0.0.5:7443', heartbeatMs: 500 },
      problems,
    );
    expect(problems).toEqual([]);
    expect(c).toEqual({
      url: 'postgres://aspire:secret@db:5432/aspire',
      nodeId: 'node-1',
      advertise: '10.0.0.5:7443',
      heartbeatMs: 500,
      redirectMargin: 16,
    });
  });

  it('lists every bad key, and never the URL (it may carry a password)', () => {
    const problems: string[] = [];
    checkClusterConfig(
      {
        url: 'mysql://u:hunter2@h/db',
        nodeId: 'bad id!',
        advertise: 'nowhere',
        heartbeatMs: 'x',
        redirectMargin: 'many',
        extra: 1,
      },
      problems,
    );
    expect(problems.join('\n')).toMatch(/cluster\.url: must be a postgres:\/\/ URL/);
    expect(problems.join('\n')).toMatch(/cluster\.nodeId/);
    expect(problems.join('\n')).toMatch(/cluster\.advertise: must be host:port/);
    expect(problems.join('\n')).toMatch(/cluster\.extra/);
    expect(problems.join('\n')).toMatch(/cluster\.redirectMargin/);
    expect(problems.join('\n')).not.toContain('hunter2');
    const more: string[] = [];
    checkClusterConfig({ url: 'postgres://h/db', urlFile: '/nonexistent/url' }, more);
    expect(more.join('\n')).toMatch(/give one/);
    expect(more.join('\n')).toMatch(/cannot read \/nonexistent\/url: ENOENT/);
  });

  it('derives a node id that fits a PostgreSQL application_name (63 bytes)', () => {
    expect(derivedNodeId('web-01.example.com', 7443)).toBe('web-01.example.com-7443');
    const long = derivedNodeId('x'.repeat(200), 65535);
    expect(applicationNameOf(long).length).toBeLessThanOrEqual(63);
    expect(derivedNodeId('***', 1)).toBe('node-1');
  });

  it('names one LISTEN channel per node: a lower-case identifier, distinct per node id', () => {
    expect(channelOf('node-1')).toMatch(/^aspire_node_[0-9a-f]{24}$/);
    expect(channelOf('node-1')).not.toBe(channelOf('node-2'));
    expect(presenceIdentity({ agentsn: 'sn-1', hostname: 'h' })).toBe('sn:sn-1');
    expect(presenceIdentity({ hostname: 'h' })).toBe('host:h');
  });
});

describe('messages between nodes', () => {
  const req = {
    t: 'req',
    rid: 'r1',
    from: 'node-1',
    hosts: ['h1', 'h2'],
    frame: { id: 'x', method: 'sync.bash', cmd: 'ls' },
    deadlineMs: 1000,
  };

  it('parses a request and a reply', () => {
    expect(parseBusMessage(JSON.stringify(req))).toEqual(req);
    const rep = {
      t: 'rep',
      rid: 'r1',
      host: 'h1',
      reply: { id: 'x', resp: 'failed', retcode: 203, message: 'No such host' },
    };
    expect(parseBusMessage(JSON.stringify(rep))).toEqual(rep);
  });

  it('drops anything malformed instead of acting on it', () => {
    for (const bad of [
      'not json',
      'null',
      '[]',
      JSON.stringify({ ...req, t: 'other' }),
      JSON.stringify({ ...req, rid: 1 }),
      JSON.stringify({ ...req, rid: 'r'.repeat(101) }),
      JSON.stringify({ ...req, deadlineMs: -1 }),
      JSON.stringify({ ...req, deadlineMs: 'soon' }),
      JSON.stringify({ ...req, frame: { id: 'x' } }),
      JSON.stringify({ ...req, from: undefined }),
      JSON.stringify({ ...req, hosts: [] }),
      JSON.stringify({ ...req, hosts: 'h1' }),
      JSON.stringify({ ...req, hosts: ['h1', 2] }),
      JSON.stringify({ t: 'rep', rid: 'r1', reply: { id: 'x', resp: 'success', retcode: 0, message: 'ok' } }),
      JSON.stringify({ t: 'rep', rid: 'r1', host: 'h1', reply: { id: 'x', resp: 'maybe' } }),
    ]) {
      expect(parseBusMessage(bad), bad).toBeUndefined();
    }
  });

  it('carries a routed cancel (by request id or by task name) and reads it back on the other node', () => {
    for (const spec of [{ request: 'polaris-42' }, { name: 'disk-check' }] as const) {
      const m = { ...req, frame: routedCancelFrame('c1', spec) };
      const parsed = parseBusMessage(JSON.stringify(m));
      expect(parsed?.t === 'req' && cancelSpecOf(parsed.frame)).toEqual(spec);
    }
    // Neither a string request nor a name: the receiving node answers a failure, it sends nothing.
    expect(cancelSpecOf({ id: 'c1', method: 'cancel', request: 7 })).toBeUndefined();
    expect(cancelSpecOf({ id: 'c1', method: 'cancel' })).toBeUndefined();
  });

  it("keeps NOTIFY payloads under PostgreSQL's 8000-byte limit", () => {
    expect(NOTIFY_MAX_BYTES).toBeLessThan(8000);
  });
});

describe('batched messages', () => {
  const rep = (host: string) =>
    JSON.stringify({
      t: 'rep',
      rid: 'r1',
      host,
      reply: { id: 'x', resp: 'success', retcode: 0, message: 'Normal termination', data: '' },
    });

  it('sends a message alone as it is, and many to one node in as few notifications as fit', () => {
    expect(packMessages([rep('h0')])).toEqual({ payloads: [rep('h0')], large: [] });
    const texts = Array.from({ length: 500 }, (_, i) => rep(`host-${i}`));
    const { payloads, large } = packMessages(texts);
    expect(large).toEqual([]);
    const total = texts.reduce((a, t) => a + t.length + 1, 0);
    expect(payloads.length).toBeLessThanOrEqual(Math.ceil(total / (NOTIFY_MAX_BYTES - 100)));
    expect(payloads.length).toBeGreaterThan(1);
    const back = payloads.flatMap((p) => {
      expect(Buffer.byteLength(p)).toBeLessThanOrEqual(NOTIFY_MAX_BYTES);
      return parseBusPayload(p).messages;
    });
    expect(back.map((m) => (m.t === 'rep' ? m.host : ''))).toEqual(texts.map((_, i) => `host-${i}`));
  });

  it('leaves a message too large for any notification to a payload row, and packs the rest', () => {
    const big = JSON.stringify({ t: 'rep', rid: 'r1', host: 'h', reply: { data: 'x'.repeat(9000) } });
    const { payloads, large } = packMessages([rep('a'), big, rep('b')]);
    expect(large).toEqual([big]);
    expect(payloads).toHaveLength(1);
    expect(parseBusPayload(payloads[0]!).messages).toHaveLength(2);
  });

  it('drops the malformed entries of a batch and keeps the others; carries redirect notices', () => {
    const batch = `{"t":"batch","m":[${rep('a')},{"t":"rep","rid":"r1"},{"t":"exp","ids":["sn:1","host:b"]}]}`;
    const { messages, dropped } = parseBusPayload(batch);
    expect(dropped).toBe(1);
    expect(messages.map((m) => m.t)).toEqual(['rep', 'exp']);
    expect(parseBusPayload('{"t":"batch","m":7}')).toEqual({ messages: [], dropped: 1 });
    expect(parseBusPayload('nope')).toEqual({ messages: [], dropped: 1 });
    expect(parseBusMessage('{"t":"exp","ids":[]}')).toBeUndefined();
    expect(parseBusMessage('{"t":"exp","ids":[1]}')).toBeUndefined();
  });
});

describe('placement', () => {
  const load = (nodeId: string, n: number) => ({ nodeId, load: n });
  const row = (nodeId: string, agents: number, extra: Partial<NodeLoad> = {}): NodeLoad => ({
    nodeId,
    advertise: `127.0.0.1:${nodeId.length}`,
    agents,
    rate: 0,
    beatAt: 1000,
    heartbeatMs: 1000,
    ...extra,
  });

  it('with no margin: accepts on a tie or alone, redirects to a node holding fewer', () => {
    expect(pickRedirect([], 'a', 5, 'sn:1', 0)).toBeUndefined();
    expect(pickRedirect([load('a', 0), load('b', 0)], 'a', 0, 'sn:1', 0)).toBeUndefined();
    expect(pickRedirect([load('a', 1), load('b', 0)], 'a', 1, 'sn:1', 0)?.nodeId).toBe('b');
    expect(pickRedirect([load('b', 2), load('c', 2)], 'a', 2, 'sn:1', 0)).toBeUndefined();
  });

  it('redirects only beyond the margin, max(minimum, 10% of this node)', () => {
    expect(redirectMargin(0, 16)).toBe(16);
    expect(redirectMargin(1000, 16)).toBe(100);
    expect(pickRedirect([load('b', 984)], 'a', 1000, 'sn:1', redirectMargin(1000, 16))).toBeUndefined();
    expect(pickRedirect([load('b', 899)], 'a', 1000, 'sn:1', redirectMargin(1000, 16))?.nodeId).toBe('b');
    expect(pickRedirect([load('b', 0)], 'a', 16, 'sn:1', 16)).toBeUndefined();
    expect(pickRedirect([load('b', 0)], 'a', 17, 'sn:1', 16)?.nodeId).toBe('b');
  });

  it('spreads hosts over every node under the margin by a hash of the host, not all to the emptiest', () => {
    const others = [load('b', 0), load('c', 5), load('d', 10)];
    const picked = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const t = pickRedirect(others, 'a', 100, `sn:host-${i}`, 16)!.nodeId;
      picked.set(t, (picked.get(t) ?? 0) + 1);
    }
    expect([...picked.keys()].sort()).toEqual(['b', 'c', 'd']);
    for (const n of picked.values()) expect(n).toBeGreaterThan(50);
    // The same host goes the same way every time.
    expect(pickRedirect(others, 'a', 100, 'sn:x', 16)).toBe(pickRedirect(others, 'a', 100, 'sn:x', 16));
  });

  it("carries another node's count forward by its rate, for at most one of its heartbeats", () => {
    const b = row('b', 100, { rate: 50 });
    expect(estimateLoad(b, 1000)).toBe(100);
    expect(estimateLoad(b, 1500)).toBe(125);
    expect(estimateLoad(b, 9000)).toBe(150);
    expect(estimateLoad(b, 500)).toBe(100); // its clock ahead of ours
    expect(estimateLoad(row('c', 3, { rate: -100 }), 2000)).toBe(0);
  });

  it('in a burst where every node grows alike, nobody redirects; a node far behind gets agents', () => {
    const p = new Placement('a', 16);
    // Each node took 200 agents in its last second; a now holds 300 live, 1 s after their beats.
    p.update([row('a', 200, { rate: 200 }), row('b', 200, { rate: 200 }), row('c', 200, { rate: 200 })]);
    expect(p.choose(300, 'sn:1', 1500)).toBeUndefined();
    p.update([row('a', 200), row('b', 200), row('c', 0)]);
    expect(p.choose(240, 'sn:1', 1500)?.nodeId).toBe('c');
    // The view says what it counts and as of when: c's row (written at its beat) plus the one sent.
    expect(p.snapshot().find((n) => n.nodeId === 'c')).toMatchObject({ agents: 1, asOf: 1000 });
  });

  it('counts agents it sent since the heartbeat, and accepts a host another node has just sent here', () => {
    const p = new Placement('a', 0);
    p.update([row('a', 0), row('b', 0)]);
    expect(p.choose(1, 'sn:1', 1000)?.nodeId).toBe('b');
    expect(p.choose(1, 'sn:2', 1000)).toBeUndefined(); // b now counts 1 too
    p.expect(['sn:3'], 1000);
    expect(p.choose(5, 'sn:3', 1000)).toBeUndefined();
    // Once only, and not long after.
    expect(p.choose(5, 'sn:3', 1000)?.nodeId).toBe('b');
    p.expect(['sn:4'], 1000);
    expect(p.choose(9, 'sn:4', 1000 + 60_000)?.nodeId).toBe('b');
  });
});
