// The reconcile loop on a ManualClock with a fake process runner (unit layer: no real processes).
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@aspire/agent-core';
import type { EventKind } from '@aspire/protocol';
import { ManualClock } from '@aspire/testing';
import { checkBootConfig } from '../../src/config/boot-config.ts';
import type { SupervisionConfig } from '../../src/contracts.ts';
import type { AgentState } from '../../src/subagents/agent-state.ts';
import type { LimitHandle, Limiter } from '../../src/subagents/limits/limiter.ts';
import type { ExitListener, Launch, ProcessRunner } from '../../src/subagents/process-runner.ts';
import { parseRunSpec } from '../../src/subagents/run-spec.ts';
import { Supervisor } from '../../src/subagents/supervisor.ts';

// The BootAgent's own defaults (design.md: 60 s check, 3 min hold, 15 min window, 3 strikes).
const cfg: SupervisionConfig = { ...checkBootConfig({}, 'defaults').config.supervision, cgroupRoot: '/nonexistent' };

class FakeRunner implements ProcessRunner {
  nextPid = 100;
  live = new Map<number, { ticks: string; onExit: ExitListener; launch: Launch; ignoresTerm: boolean }>();
  signals: { pid: number; signal: string }[] = [];
  spawns: Launch[] = [];
  failSpawn = false;
  ignoreTerm = false;
  async spawn(launch: Launch, onExit: ExitListener) {
    if (this.failSpawn) throw new Error('ENOENT');
    const pid = this.nextPid++;
    this.spawns.push(launch);
    this.live.set(pid, { ticks: `t${pid}`, onExit, launch, ignoresTerm: this.ignoreTerm });
    return { pid, startTicks: `t${pid}` };
  }
  startTicks(pid: number) {
    return this.live.get(pid)?.ticks;
  }
  startedAtMs() {
    return undefined;
  }
  alive(pid: number, ticks: string) {
    return this.live.get(pid)?.ticks === ticks;
  }
  signalGroup(pid: number, signal: NodeJS.Signals) {
    this.signals.push({ pid, signal });
    const p = this.live.get(pid);
    if (!p) return;
    if (signal === 'SIGTERM' && p.ignoresTerm) return;
    this.die(pid, null, signal);
  }
  /** Short commands (precheck, check): answered 0 at once unless held for the test to answer. */
  holdRuns = false;
  runs: { argv: string[]; answer: (code: number | null) => void }[] = [];
  async run(argv: string[]) {
    if (!this.holdRuns) return 0;
    return new Promise<number | null>((answer) => this.runs.push({ argv, answer }));
  }
  /** The process ends: it is gone at once, the exit event follows (like node's 'exit'). */
  die(pid: number, code: number | null, signal: string | null) {
    const p = this.live.get(pid);
    if (!p) return;
    this.live.delete(pid);
    p.onExit(code, signal);
  }
  /** Processes findByEnv answers, by environment entry. */
  byEnv = new Map<string, { pid: number; startTicks: string }[]>();
  findByEnv(entry: string) {
    return this.byEnv.get(entry) ?? [];
  }
  /** An adopted process vanishes: no exit event, only polls notice. */
  vanish(pid: number) {
    this.live.delete(pid);
  }
}

function setup(over: Partial<SupervisionConfig> = {}, limitKill = false, save?: (s: AgentState) => void) {
  const clock = new ManualClock();
  const runner = new FakeRunner();
  const events: { kind: EventKind; message: string; agent?: string | undefined }[] = [];
  const saved: AgentState[] = [];
  const limiter: Limiter = {
    kind: 'watchdog',
    attach: (): LimitHandle => ({ killedForLimit: () => limitKill, release: () => {} }),
    prepare: () => ({
      procsFiles: [],
      bind: (): LimitHandle => ({ killedForLimit: () => limitKill, release: () => {} }),
      cancel: () => {},
    }),
    forget: () => true,
  };
  const sup = new Supervisor({
    clock,
    logger: silentLogger(),
    events: { emit: (kind, message, o) => events.push({ kind, message, agent: o?.agent }) },
    stateDir: '/unused',
    config: { ...cfg, ...over },
    runner,
    limiter,
    versionDir: (n, v) => `/agents/${n}/${v}`,
    logFile: (n) => `/agents/${n}.log`,
    save: save ?? ((s) => saved.push(structuredClone(s))),
  });
  const state: AgentState = {
    name: 'A',
    current: '1.0',
    kind: 'tar',
    desired: 'running',
    fatal: false,
    killed: false,
    strikes: 0,
    lastStartAt: 0,
    envs: { FROM_JOB: 'yes' },
    limits: { memory: '20M' },
  };
  const spec = parseRunSpec({ version: '1.0', start: 'bin/agent --run', env: { FROM_SPEC: '1', FROM_JOB: 'spec' } });
  return { clock, runner, events, saved, sup, state, spec };
}

const kinds = (ev: { kind: string }[]) => ev.map((e) => e.kind);
const S = 1000;

describe('Supervisor reconcile loop (ManualClock)', () => {
  it('crash loop: restarts held 3 min after each start, fatal after the third strike, events for each', async () => {
    const { clock, runner, events, sup, state, spec } = setup();
    sup.startLoop();
    await sup.add(state, spec);
    await sup.start('A');
    expect(runner.spawns).toHaveLength(1);
    expect(runner.spawns[0]!.env).toMatchObject({ FROM_SPEC: '1', FROM_JOB: 'yes', ASPIRE_AGENT_NAME: 'A' });
    expect(runner.spawns[0]!.argv).toEqual(['bin/agent', '--run']);

    for (let strike = 1; strike <= 2; strike++) {
      runner.die(runner.nextPid - 1, 1, null); // crash right away
      await clock.advance(0);
      expect(sup.reports()[0]).toMatchObject({ status: 'stoped', strikes: strike });
      await clock.advance(180 * S - 1);
      expect(runner.spawns).toHaveLength(strike); // hold respected: not yet
      await clock.advance(1);
      expect(runner.spawns).toHaveLength(strike + 1);
      expect(sup.reports()[0]!.status).toBe('running');
    }
    runner.die(runner.nextPid - 1, 1, null);
    await clock.advance(0);
    expect(sup.reports()[0]).toMatchObject({ status: 'fatal', strikes: 3 });
    await clock.advance(3600 * S);
    expect(runner.spawns).toHaveLength(3); // fatal: never restarted by itself
    expect(kinds(events).filter((k) => k === 'strike')).toHaveLength(3);
    expect(kinds(events).filter((k) => k === 'fatal')).toHaveLength(1);
    expect(kinds(events).filter((k) => k === 'exit')).toHaveLength(3);

    await sup.start('A'); // a job resets fatal
    expect(runner.spawns).toHaveLength(4);
    expect(sup.reports()[0]).toMatchObject({ status: 'running', strikes: 0 });
    await sup.stopLoop();
  });

  it('a run as long as the strike window clears the strikes', async () => {
    const { clock, runner, sup, state, spec } = setup();
    sup.startLoop();
    await sup.add(state, spec);
    await sup.start('A');
    runner.die(100, 1, null);
    await clock.advance(180 * S);
    expect(sup.reports()[0]!.strikes).toBe(1);
    await clock.advance(900 * S); // ticks every 60 s notice the long run
    expect(sup.reports()[0]!.strikes).toBe(0);
    runner.die(101, 1, null);
    await clock.advance(0);
    expect(sup.reports()[0]!.strikes).toBe(0); // exit after a long run is no strike
    await sup.stopLoop();
  });

  it('a stale exit event (old pid) is dropped', async () => {
    const { clock, runner, events, sup, state, spec } = setup();
    await sup.add(state, spec);
    await sup.start('A');
    await sup.exited('A', 99, 1, null);
    expect(kinds(events)).not.toContain('exit');
    expect(sup.reports()[0]!.status).toBe('running');
    await clock.advance(0);
  });

  it('stop: signal first, SIGKILL to the group after stop_timeout when ignored', async () => {
    const { clock, runner, events, sup, state, spec } = setup();
    runner.ignoreTerm = true;
    await sup.add(state, spec);
    await sup.start('A');
    let done = false;
    const p = sup.stop('A').then(() => (done = true));
    await clock.advance(9 * S);
    expect(done).toBe(false);
    expect(runner.signals).toEqual([{ pid: 100, signal: 'SIGTERM' }]);
    await clock.advance(1 * S + 100);
    await p;
    expect(runner.signals.map((s) => s.signal)).toEqual(['SIGTERM', 'SIGKILL']);
    expect(sup.reports()[0]!.status).toBe('stoped');
    expect(kinds(events)).toContain('stopped');
    await clock.advance(3600 * S);
    expect(runner.spawns).toHaveLength(1); // desired stopped: no restart
  });

  it('adopts a live process with matching start ticks; a reused pid is not adopted', async () => {
    const { clock, runner, events, sup, state, spec } = setup();
    runner.live.set(500, { ticks: 't500', onExit: () => {}, launch: {} as Launch, ignoresTerm: false });
    await sup.adopt({ ...state, pid: 500, startTicks: 't500', lastStartAt: clock.now() }, spec);
    expect(kinds(events)).toEqual(['adopted']);
    expect(runner.spawns).toHaveLength(0);
    expect(sup.reports()[0]).toMatchObject({ status: 'running', pid: 500 });

    const b = setup();
    b.runner.live.set(600, { ticks: 'someone-else', onExit: () => {}, launch: {} as Launch, ignoresTerm: false });
    await b.sup.adopt({ ...b.state, pid: 600, startTicks: 't600', lastStartAt: b.clock.now() - 3600 * S }, b.spec);
    expect(kinds(b.events)).not.toContain('adopted');
    await b.clock.advance(0);
    expect(b.runner.spawns).toHaveLength(1); // started fresh (hold long past)
    expect(b.runner.signals).toEqual([]); // the stranger was not touched
  });

  it('an adopted process that dies is noticed by the tick poll and restarted by policy', async () => {
    const { clock, runner, events, sup, state, spec } = setup();
    runner.live.set(500, { ticks: 't500', onExit: () => {}, launch: {} as Launch, ignoresTerm: false });
    sup.startLoop();
    await sup.adopt({ ...state, pid: 500, startTicks: 't500', lastStartAt: clock.now() }, spec);
    runner.vanish(500);
    await clock.advance(59 * S);
    expect(kinds(events)).not.toContain('exit');
    await clock.advance(1 * S);
    expect(kinds(events)).toContain('exit');
    expect(kinds(events)).toContain('strike');
    await clock.advance(120 * S); // hold: 180 s after the adoption
    expect(runner.spawns).toHaveLength(1);
    await sup.stopLoop();
  });

  it('an own child gone without an exit event is counted on the second tick that finds it gone', async () => {
    const { clock, runner, events, sup, state, spec } = setup();
    sup.startLoop();
    await sup.add(state, spec);
    await sup.start('A');
    runner.vanish(100); // e.g. an event lost: the pid is gone, no 'exit' fired
    await clock.advance(60 * S);
    expect(kinds(events)).not.toContain('exit');
    await clock.advance(60 * S);
    expect(kinds(events)).toContain('exit');
    expect(kinds(events)).toContain('strike');
    await sup.stopLoop();
  });

  it('a limit kill is status killed with a killed event, then restarted after the hold', async () => {
    const { clock, runner, events, sup, state, spec } = setup({}, true);
    await sup.add(state, spec);
    await sup.start('A');
    await clock.advance(30 * S);
    runner.die(100, null, 'SIGKILL');
    await clock.advance(0);
    expect(sup.reports()[0]!.status).toBe('killed');
    expect(kinds(events)).toContain('killed');
    await clock.advance(150 * S);
    expect(runner.spawns).toHaveLength(2);
    expect(sup.reports()[0]!.status).toBe('running');
  });

  it('startWatched: an exit in the health window fails it without a policy restart', async () => {
    const { clock, runner, sup, state, spec } = setup();
    await sup.add(state, spec);
    const w = sup.startWatched('A', 30 * S);
    await clock.advance(1 * S);
    runner.die(100, 1, null);
    await clock.advance(0);
    expect(await w).toMatchObject({ ok: false });
    await clock.advance(3600 * S);
    expect(runner.spawns).toHaveLength(1);

    const ok = setup();
    await ok.sup.add(ok.state, ok.spec);
    const w2 = ok.sup.startWatched('A', 30 * S);
    await ok.clock.advance(30 * S);
    expect(await w2).toEqual({ ok: true, reason: '' });
  });

  it('a start that cannot spawn counts as a strike and is retried after the hold', async () => {
    const { clock, runner, events, sup, state, spec } = setup();
    await sup.add(state, spec);
    runner.failSpawn = true;
    await expect(sup.start('A')).rejects.toMatchObject({ codeName: 'JOB_START_FAILED' });
    expect(kinds(events)).toEqual(['exit', 'strike']);
    runner.failSpawn = false;
    await clock.advance(180 * S);
    expect(runner.spawns).toHaveLength(1);
  });

  it("a pending precheck does not hold the loop: another agent's exit is handled and it is restarted on time", async () => {
    const { clock, runner, events, sup, state } = setup();
    runner.holdRuns = true;
    sup.startLoop();
    const specA = parseRunSpec({ version: '1.0', start: 'bin/a', precheck: ['/bin/check-a'] });
    const specB = parseRunSpec({ version: '1.0', start: 'bin/b' });
    await sup.add({ ...state, name: 'A' }, specA);
    await sup.add({ ...state, name: 'B' }, specB);
    await sup.start('B');
    const pidB = runner.nextPid - 1;
    let aDone = false;
    const aStart = sup.start('A').then(() => (aDone = true));
    await clock.advance(0);
    expect(runner.runs.map((r) => r.argv)).toEqual([['/bin/check-a']]); // A's precheck runs (and hangs)

    runner.die(pidB, 1, null); // B crashes while A's precheck is pending
    await clock.advance(0);
    expect(events.filter((e) => e.agent === 'B').map((e) => e.kind)).toEqual(['started', 'exit', 'strike']);
    expect(sup.reports().find((r) => r.name === 'B')).toMatchObject({ status: 'stoped', strikes: 1 });
    await clock.advance(180 * S - 1);
    expect(runner.spawns.map((l) => l.argv[0])).toEqual(['bin/b']);
    await clock.advance(1); // B's hold is over: restarted on time, A still waiting
    expect(runner.spawns.map((l) => l.argv[0])).toEqual(['bin/b', 'bin/b']);
    expect(sup.reports().find((r) => r.name === 'B')!.status).toBe('running');
    expect(sup.reports().find((r) => r.name === 'A')!.status).toBe('stoped');
    expect(aDone).toBe(false);

    runner.runs[0]!.answer(0); // the precheck passes: its result comes back through the loop
    await clock.advance(0);
    await aStart;
    expect(runner.spawns.map((l) => l.argv[0])).toEqual(['bin/b', 'bin/b', 'bin/a']);
    expect(sup.reports().find((r) => r.name === 'A')!.status).toBe('running');
    await sup.stopLoop();
  });

  it('a failing precheck (off the loop) is a strike; a stop while it runs cancels the start', async () => {
    const { clock, runner, events, sup, state } = setup();
    runner.holdRuns = true;
    const spec = parseRunSpec({ version: '1.0', start: 'bin/a', precheck: ['/bin/check'], precheck_retries: 2 });
    await sup.add(state, spec);
    const failing = sup.start('A');
    const failed = expect(failing).rejects.toMatchObject({
      codeName: 'JOB_START_FAILED',
      message: expect.stringMatching(/precheck \/bin\/check failed \(exit 3\) 2 time/),
    });
    await clock.advance(0);
    runner.runs[0]!.answer(3);
    await clock.advance(999);
    expect(runner.runs).toHaveLength(1); // retries are 1 s apart
    await clock.advance(1);
    runner.runs[1]!.answer(3);
    await clock.advance(0);
    await failed;
    expect(kinds(events)).toEqual(['exit', 'strike']);
    expect(runner.spawns).toHaveLength(0);

    // The policy retries after the hold; a stop job while that precheck runs cancels the start.
    await clock.advance(180 * S);
    expect(runner.runs).toHaveLength(3);
    await sup.stop('A');
    runner.runs[2]!.answer(0); // a late pass is dropped: the agent stays stopped
    await clock.advance(3600 * S);
    expect(runner.spawns).toHaveLength(0);
    expect(sup.reports()[0]!.status).toBe('stoped');
  });
});

describe('Supervisor on a full state disk (ManualClock)', () => {
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

  it('a restart while the disk is full: kept in memory, boot goes on, saved on a later tick; disk_full and disk_recovered once each', async () => {
    let full = false;
    const saved: AgentState[] = [];
    const save = (st: AgentState) => {
      if (full) throw enospc();
      saved.push(structuredClone(st));
    };
    const { clock, runner, events, sup, state, spec } = setup({}, false, save);
    sup.startLoop();
    await sup.add(state, spec);
    await sup.start('A');
    const pid1 = runner.nextPid - 1;
    full = true;
    runner.die(pid1, 1, null);
    await clock.advance(0);
    await clock.advance(180 * S);
    const pid2 = runner.nextPid - 1;
    expect(pid2).not.toBe(pid1);
    expect(runner.spawns).toHaveLength(2);
    expect(sup.reports()[0]).toMatchObject({ status: 'running', pid: pid2 });
    expect(sup.unsavedAgents).toEqual(['A']);
    await clock.advance(300 * S); // ticks retry, still full: said once
    expect(kinds(events).filter((k) => k === 'disk_full')).toHaveLength(1);
    expect(saved.at(-1)!.pid).toBe(pid1);
    full = false;
    await clock.advance(60 * S); // the next tick saves it
    expect(saved.at(-1)).toMatchObject({ pid: pid2, startTicks: `t${pid2}` });
    expect(sup.unsavedAgents).toEqual([]);
    expect(kinds(events).filter((k) => k === 'disk_recovered')).toHaveLength(1);
    expect(runner.spawns).toHaveLength(2); // never a second copy
  });

  it("a job's change that cannot be written fails the job and leaves memory as it was", async () => {
    let full = false;
    const { sup, state, spec } = setup({}, false, (st) => {
      if (full) throw enospc();
      void st;
    });
    await sup.add(state, spec);
    full = true;
    await expect(sup.update('A', (st) => (st.envs = { CHANGED: '1' }))).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(sup.get('A')!.envs).toEqual({ FROM_JOB: 'yes' });
  });

  it('adoption finds a running copy whose pid was never saved by its ASPIRE_AGENT_HOME entry and adopts it instead of starting another', async () => {
    const { runner, sup, state, spec } = setup();
    await sup.add(state, spec);
    await sup.start('A');
    expect(runner.spawns[0]!.env.ASPIRE_AGENT_HOME).toBe('/unused/A');
    // The state on disk names a process that is gone; the live copy was started after it.
    const live = runner.nextPid - 1;
    runner.byEnv.set('ASPIRE_AGENT_HOME=/unused/A', [{ pid: live, startTicks: `t${live}` }]);
    const fresh = setup();
    fresh.runner.live = runner.live;
    fresh.runner.byEnv = runner.byEnv;
    fresh.sup.startLoop();
    await fresh.sup.adopt({ ...state, pid: 42, startTicks: 't42', lastStartAt: 0 }, spec);
    expect(fresh.runner.spawns).toHaveLength(0);
    expect(fresh.sup.reports()[0]).toMatchObject({ status: 'running', pid: live });
    expect(kinds(fresh.events)).toContain('adopted');
    expect(fresh.saved.at(-1)).toMatchObject({ pid: live });
  });
});
