// The pure desired-state rules: the merge (lower wins per name, remove, canonical hash), the
// policy document check (crontab lines with the BasicAgent's grammar), and the tree rules
// (kinds, cycles, the host's component).
import { describe, expect, it } from 'vitest';
import { EMPTY_POLICY_HASH, canonicalJson, policyHash } from '@aspire/protocol';
import { checkPolicyDocument, crontabProblem } from '../src/policy/document.ts';
import { mergePolicies } from '../src/policy/merge.ts';
import { PolicyRefusal } from '../src/policy/refusal.ts';
import { checkMove, hostComponent, nodeMap, pathTo, type TreeNodeRow } from '../src/policy/tree-rules.ts';

const reason = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof PolicyRefusal) return err.reason;
    throw err;
  }
  return 'accepted';
};

describe('mergePolicies', () => {
  const t = (name: string, command: string) => ({ name, user: 'root', schedule: '@hourly', command });

  it('the lowest level naming an entry wins, whole; remove takes an inherited entry away and a lower level may add it back', () => {
    const eff = mergePolicies([
      {
        origin: 'root',
        doc: {
          subagents: [{ name: 'B', version: '1', limits: { cpu: '5%' } }],
          periodic: [t('a', 'root-a'), t('b', 'root-b')],
        },
      },
      { origin: 'node:1', doc: { subagents: [{ name: 'B', version: '2' }], periodic: [{ name: 'b', remove: true }] } },
      { origin: 'node:2', doc: { periodic: [t('a', 'comp-a')] } },
      { origin: 'host', doc: { periodic: [t('b', 'host-b')] } },
    ]);
    expect(eff.policy).toEqual({
      subagents: [{ name: 'B', version: '2', run: {}, limits: {} }],
      periodic: [
        { name: 'a', user: 'root', schedule: '@hourly', command: 'comp-a' },
        { name: 'b', user: 'root', schedule: '@hourly', command: 'host-b' },
      ],
    });
    expect(eff.origin).toEqual({ B: 'node:1', a: 'node:2', b: 'host' });
  });

  it('the hash is of the canonical JSON: order of the entries written does not matter; no policy is the empty hash', () => {
    const one = mergePolicies([{ origin: 'root', doc: { periodic: [t('x', '1'), t('y', '2')] } }]);
    const two = mergePolicies([{ origin: 'root', doc: { periodic: [t('y', '2'), t('x', '1')] } }]);
    expect(one.hash).toBe(two.hash);
    expect(one.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(mergePolicies([]).hash).toBe(EMPTY_POLICY_HASH);
    expect(EMPTY_POLICY_HASH).toBe(policyHash({ subagents: [], periodic: [] }));
    expect(canonicalJson({ subagents: [], periodic: [] })).toBe('{"periodic":[],"subagents":[]}');
  });
});

describe('checkPolicyDocument', () => {
  it('accepts six fields with seconds, five, macros, removals', () => {
    const doc = checkPolicyDocument({
      subagents: [
        { name: 'BasicAgent', version: '1.2.3', run: { envs: { PATH: '/usr/bin' } } },
        { name: 'Old', remove: true },
      ],
      periodic: [
        { name: 'six', user: 'root', schedule: '0 0 9-17 * * MON-FRI', command: '/usr/local/bin/report' },
        { name: 'five', user: 'nobody', schedule: '*/5 * * * *', command: 'echo hi > /tmp/x' },
        { name: 'macro', user: 'root', schedule: '@daily', command: 'true' },
        { name: 'gone', remove: true },
      ],
    });
    expect(doc.periodic).toHaveLength(4);
  });

  it('refuses what the BasicAgent would not run, naming the task', () => {
    const bad = (schedule: string, extra: Record<string, string> = {}) =>
      crontabProblem({ name: 'n', user: 'root', schedule, command: 'true', ...extra });
    expect(bad('0 61 * * * *')).toMatch(/minute/);
    expect(bad('* * *')).toBeDefined();
    expect(bad('@reboot')).toMatch(/macro/);
    expect(bad('* * * * *', { command: 'a\nb' })).toMatch(/line break/);
    expect(bad('* * * * *', { user: 'ro ot' })).toBeDefined();
    expect(bad('* * * * * *')).toBeUndefined();
    expect(
      reason(() =>
        checkPolicyDocument({ periodic: [{ name: 'n', user: 'root', schedule: '0 0 25 * * *', command: 'x' }] }),
      ),
    ).toBe('policy_bad_crontab');
    expect(reason(() => checkPolicyDocument({ periodic: {} }))).toBe('policy_invalid');
    expect(reason(() => checkPolicyDocument({ subagents: [{ name: 'BootAgent', version: '2.0.0' }] }))).toBe(
      'policy_invalid',
    );
    expect(reason(() => checkPolicyDocument([]))).toBe('policy_invalid');
    expect(reason(() => checkPolicyDocument({ subagents: [{ name: 'a b', version: '1' }] }))).toBe('policy_invalid');
    expect(
      reason(() => checkPolicyDocument({ subagents: [{ name: 'a', version: '1', limits: { cpu: 'lots' } }] })),
    ).toBe('policy_invalid');
    expect(
      reason(() =>
        checkPolicyDocument({
          subagents: [
            { name: 'a', version: '1' },
            { name: 'a', version: '2' },
          ],
        }),
      ),
    ).toBe('policy_duplicate_name');
  });
});

describe('tree rules', () => {
  const n = (
    id: number,
    kind: TreeNodeRow['kind'],
    parent: number | null,
    tags: string | null = null,
  ): TreeNodeRow => ({
    id,
    kind,
    name: `n${id}`,
    parent,
    tags,
    gmt_create: 0,
    gmt_modify: 0,
  });
  const nodes = [
    n(1, 'product', null),
    n(2, 'service', 1),
    n(3, 'component', 2, 'a=1'),
    n(4, 'component', 2, 'a=1,b=2'),
    n(5, 'component', 2, 'c=3'),
  ];
  const map = nodeMap(nodes);

  it('refuses a cycle before the kind rule, and a wrong kind', () => {
    expect(reason(() => checkMove(map, 1, 3))).toBe('tree_cycle');
    expect(reason(() => checkMove(map, 2, 2))).toBe('tree_cycle');
    expect(reason(() => checkMove(map, 3, 1))).toBe('tree_parent_kind');
    expect(reason(() => checkMove(map, 3, null))).toBe('tree_parent_required');
    expect(reason(() => checkMove(map, 3, 2))).toBe('accepted');
    expect(pathTo(map, 3).map((x) => x.id)).toEqual([1, 2, 3]);
  });

  it('explicit wins; by tag the selector with most pairs, then the lowest id; the rest reported', () => {
    expect(hostComponent(nodes, 5, new Set(['a=1', 'b=2']))).toEqual({ component: 5, by: 'explicit', alsoMatched: [] });
    expect(hostComponent(nodes, undefined, new Set(['a=1', 'b=2']))).toEqual({
      component: 4,
      by: 'tag',
      alsoMatched: [3],
    });
    expect(hostComponent(nodes, undefined, new Set(['a=1']))).toEqual({ component: 3, by: 'tag', alsoMatched: [] });
    expect(hostComponent(nodes, undefined, new Set(['z=9']))).toEqual({ component: null, by: null, alsoMatched: [] });
  });
});
