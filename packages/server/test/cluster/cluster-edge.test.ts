import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkClusterConfig, derivedNodeId } from '../../src/cluster/cluster-config.ts';
import { NOTIFY_MAX_BYTES, applicationNameOf, channelOf, parseBusMessage } from '../../src/cluster/node-bus.ts';
import { pickRedirect, presenceIdentity } from '../../src/cluster/presence.ts';
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
    });
  });

  it('lists every bad key, and never the URL (it may carry a password)', () => {
    const problems: string[] = [];
    checkClusterConfig(
      { url: 'mysql://u:hunter2@h/db', nodeId: 'bad id!', advertise: 'nowhere', heartbeatMs: 'x', extra: 1 },
      problems,
    );
    expect(problems.join('\n')).toMatch(/cluster\.url: must be a postgres:\/\/ URL/);
    expect(problems.join('\n')).toMatch(/cluster\.nodeId/);
    expect(problems.join('\n')).toMatch(/cluster\.advertise: must be host:port/);
    expect(problems.join('\n')).toMatch(/cluster\.extra/);
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

describe('least-loaded placement', () => {
  const node = (nodeId: string, agents: number) => ({ nodeId, advertise: `127.0.0.1:${nodeId.length}`, agents });

  it('accepts here on a tie or when alone, and redirects to the emptiest other node when it holds fewer', () => {
    expect(pickRedirect([], 'a', 5)).toBeUndefined();
    expect(pickRedirect([node('a', 0)], 'a', 0)).toBeUndefined();
    expect(pickRedirect([node('a', 0), node('b', 0), node('c', 0)], 'a', 0)).toBeUndefined();
    expect(pickRedirect([node('a', 1), node('b', 0), node('c', 0)], 'a', 1)?.nodeId).toBe('b');
    expect(pickRedirect([node('a', 2), node('b', 1), node('c', 0)], 'a', 2)?.nodeId).toBe('c');
    expect(pickRedirect([node('a', 2), node('b', 2), node('c', 2)], 'a', 2)).toBeUndefined();
  });

  it("goes by this node's own count now, not the heartbeat's", () => {
    // The view says a=0 but three agents have connected here since: send the next one to b.
    expect(pickRedirect([node('a', 0), node('b', 1)], 'a', 3)?.nodeId).toBe('b');
  });
});
