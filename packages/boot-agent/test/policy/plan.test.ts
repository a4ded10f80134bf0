import type { AgentReport } from '@aspire/protocol';
import { describe, expect, it } from 'vitest';
import type { DesiredAgent } from '../../src/policy/policy-doc.ts';
import { planSubAgents } from '../../src/policy/plan.ts';

const url = 'http://127.0.0.1:1/p.tar.gz';
const want = (name: string, version: string, extra: Partial<DesiredAgent> = {}): DesiredAgent => ({
  name,
  version,
  url,
  ...extra,
});
const running = (name: string, version: string, extra: Partial<AgentReport> = {}): AgentReport => ({
  name,
  version,
  status: 'running',
  uptime: 5,
  ...extra,
});

describe('planSubAgents', () => {
  const rows: {
    what: string;
    desired: DesiredAgent[];
    reports: AgentReport[];
    installed: string[];
    leave?: string[];
    actions: string[];
    record: string[];
    forget: string[];
  }[] = [
    {
      what: 'nothing wanted, nothing there',
      desired: [],
      reports: [],
      installed: [],
      actions: [],
      record: [],
      forget: [],
    },
    {
      what: 'missing: installed and recorded',
      desired: [want('A', '1')],
      reports: [],
      installed: [],
      actions: ['install A'],
      record: ['A'],
      forget: [],
    },
    {
      what: 'missing again (removed by hand) and already recorded: installed, not recorded twice',
      desired: [want('A', '1')],
      reports: [],
      installed: ['A'],
      actions: ['install A'],
      record: [],
      forget: [],
    },
    {
      what: 'other version: upgraded',
      desired: [want('A', '2')],
      reports: [running('A', '1')],
      installed: ['A'],
      actions: ['upgrade A'],
      record: [],
      forget: [],
    },
    {
      what: 'same version, other limits: restarted with them',
      desired: [want('A', '1', { limits: { cpu: '10%' } })],
      reports: [running('A', '1', { limits: { cpu: '20%' } })],
      installed: [],
      actions: ['restart A'],
      record: [],
      forget: [],
    },
    {
      what: 'matches: nothing',
      desired: [want('A', '1', { limits: { cpu: '10%' } })],
      reports: [running('A', '1', { limits: { cpu: '10%' } })],
      installed: ['A'],
      actions: [],
      record: [],
      forget: [],
    },
    {
      what: 'dropped from the policy and installed by it: uninstalled',
      desired: [],
      reports: [running('A', '1')],
      installed: ['A'],
      actions: ['uninstall A'],
      record: [],
      forget: [],
    },
    {
      what: 'dropped from the policy but installed by a job: left alone',
      desired: [],
      reports: [running('J', '1')],
      installed: [],
      actions: [],
      record: [],
      forget: [],
    },
    {
      what: 'recorded but gone and not wanted: forgotten',
      desired: [],
      reports: [],
      installed: ['A'],
      actions: [],
      record: [],
      forget: ['A'],
    },
    {
      what: 'named but not installable here: neither installed nor removed',
      desired: [],
      reports: [running('A', '1')],
      installed: ['A'],
      leave: ['A'],
      actions: [],
      record: [],
      forget: [],
    },
  ];
  for (const r of rows) {
    it(r.what, () => {
      const plan = planSubAgents(r.desired, r.reports, r.installed, r.leave);
      expect(plan.changes.map((c) => `${c.job.action} ${c.job.name}`)).toEqual(r.actions);
      expect(plan.record).toEqual(r.record);
      expect(plan.forget).toEqual(r.forget);
    });
  }

  it('says what each change repairs', () => {
    const plan = planSubAgents([want('A', '2'), want('B', '1')], [running('A', '1'), running('C', '3')], ['C']);
    expect(plan.changes.map((c) => c.repair)).toEqual([
      { kind: 'subagent', name: 'A', was: '1', now: '2' },
      { kind: 'subagent', name: 'B', was: null, now: '1' },
      { kind: 'subagent', name: 'C', was: '3', now: null },
    ]);
    expect(plan.changes[1]!.job).toEqual({ action: 'install', name: 'B', version: '1', url });
  });
});
