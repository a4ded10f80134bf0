/**
 * Converging to the server's desired-state policy (docs/lifecycle.md "Desired state — on the
 * host"). The push loop calls `afterReply` once per answered status push; the rest happens off
 * the loop, one pass at a time:
 *  - the reply's `policy.hash` differs from the hash last applied, or `fullCheckSec` has passed
 *    since the last full pull: pull `GET /api/v1/agent/policy` from the server that answered,
 *    verify its signature, converge (sub-agent changes through the job queue and journal, the
 *    crontab's managed section), then report `policy_applied` (hash changed) or `policy_drift`
 *    (hash unchanged, repairs made);
 *  - otherwise: compare the crontab's managed section with the applied tasks (one small file
 *    read) and repair a hand edit at once, reported as `policy_drift`.
 * A server that vanishes mid-pull, a bad signature, a failed change: nothing else is touched,
 * what runs keeps running, and the pass is tried again later (next push for a failed pull; after
 * `retrySec` for a refused or failed change unless the hash changes).
 */
import type { Clock, ManagedTask } from '@aspire/agent-core';
import { BOOT_AGENT_NAME, CREDENTIAL_HEADER, type SubAgentJob, type VerifyOutcome } from '@aspire/protocol';
import type { Logger } from 'pino';
import type { JobOutcome, SubAgentManager } from '../contracts.ts';
import type { LocalJob } from '../jobs/local-jobs.ts';
import type { Transport } from '../net/http-transport.ts';
import { stableHash } from '../net/server-choice.ts';
import type { JobJournal } from '../state/job-journal.ts';
import { type CrontabTarget, crontabDrift, writeCrontab } from './crontab-sync.ts';
import { POLICY_PATH, checkPolicyDoc, type DesiredPolicy, policyHint, policyReply } from './policy-doc.ts';
import { type Repair, planSubAgents } from './plan.ts';
import { type PolicyState, loadPolicyState, savePolicyState } from './policy-state.ts';

export interface PolicySyncDeps {
  clock: Clock;
  logger: Logger;
  stateDir: string;
  transport: Transport;
  journal: JobJournal;
  manager: SubAgentManager | undefined;
  agentsn: () => string;
  credential: () => string | undefined;
  /** Signature check of the pulled document (purpose `policy`, the pinned server key). */
  verify: (doc: unknown) => VerifyOutcome;
  /** Journal and queue sub-agent changes (jobs/local-jobs.ts). */
  run: (items: LocalJob[]) => Promise<Promise<JobOutcome>[]>;
  fullCheckSec: number;
  crontab: CrontabTarget;
  /** After a refused or failed change, wait this long before trying the same hash again. */
  retrySec?: number;
}

/** A change to the saved state; `failed: undefined` clears the failure. */
type PolicyPatch = Partial<Omit<PolicyState, 'failed'>> & { failed?: PolicyState['failed'] | undefined };

export class PolicySync {
  private state: PolicyState;
  private pass: Promise<void> | undefined;
  private readonly ac = new AbortController();
  /** The last failure reported as an event (one event per hash and reason, not one per push). */
  private reportedFailure = '';

  constructor(private readonly d: PolicySyncDeps) {
    const loaded = loadPolicyState(d.stateDir);
    if (loaded.corrupt) d.logger.error({ error: loaded.corrupt }, 'policy state unreadable: starting afresh');
    this.state = loaded.state;
  }

  get applied(): Readonly<PolicyState> {
    return this.state;
  }

  /** An answered status push: its `policy` hint and the server that answered. Never throws. */
  afterReply(server: string, reply: Record<string, unknown>): void {
    if (this.pass || this.ac.signal.aborted) return;
    const hint = policyHint.validate(reply.policy);
    if (!hint.ok) return; // a server without desired state: nothing to converge to
    const hash = hint.value.hash;
    const now = this.d.clock.now();
    const changed = hash !== this.state.appliedHash;
    const due = now - (this.state.lastFullCheckMs ?? 0) >= this.fullCheckMs();
    const failed = this.state.failed;
    const waiting = failed !== undefined && failed.hash === hash && now < failed.retryAtMs;
    const work = (changed || due) && !waiting ? this.pull(server, hash, changed) : this.checkCrontab();
    this.pass = work
      .catch((err: unknown) => this.d.logger.error({ err }, 'desired-state pass failed unexpectedly'))
      .finally(() => {
        this.pass = undefined;
      });
  }

  /**
   * The full-check period of this host: fullCheckSec shortened by up to a tenth, by a hash of the
   * agentsn, so a fleet installed in one hour does not pull all at once every day after.
   */
  private fullCheckMs(): number {
    const spread = (stableHash(this.d.agentsn()) % 1000) / 10_000;
    return this.d.fullCheckSec * 1000 * (1 - spread);
  }

  /** Resolves when no pass is in flight (tests, and stop). */
  async settled(): Promise<void> {
    await this.pass;
  }

  /** Wait for a pass in flight (the BootAgent is stopping; its job queue was aborted first). */
  async stop(): Promise<void> {
    this.ac.abort(new Error('BootAgent stopping'));
    await this.pass;
  }

  private async pull(server: string, hintHash: string, changed: boolean): Promise<void> {
    const log = this.d.logger;
    if (!this.d.transport.get) return;
    const cred = this.d.credential();
    const headers: Record<string, string> = cred ? { [CREDENTIAL_HEADER]: cred } : {};
    const path = `${POLICY_PATH}?agentsn=${encodeURIComponent(this.d.agentsn())}`;
    const r = await this.d.transport.get(server, path, headers, policyReply, this.ac.signal);
    if (r.kind !== 'ok') {
      // Kept as it is; the next answered push tries again.
      log.warn(
        { server, reason: r.reason, hash: hintHash },
        'cannot pull the desired-state policy; trying again later',
      );
      return;
    }
    // The whole body is signed for this host, envelope included (docs/lifecycle.md "The contract with the agents").
    const doc = r.value;
    const sig = this.d.verify(doc);
    if (!sig.ok) return this.refuse(hintHash, `signature: ${sig.reason}`);
    const checked = checkPolicyDoc(doc);
    if (!checked.ok) return this.refuse(hintHash, checked.error);
    await this.converge(checked.policy, changed);
  }

  private async converge(policy: DesiredPolicy, changed: boolean): Promise<void> {
    const log = this.d.logger;
    const repaired: Repair[] = [];
    const errors: string[] = [];
    await this.applySubAgents(policy, repaired, errors);
    if (this.ac.signal.aborted) return;
    const tasks = await this.repairCrontab(policy.periodic, repaired, errors);
    // The section now holds these tasks whatever else failed: the check between pulls compares with them.
    if (errors.length > 0) {
      await this.save({ periodic: tasks });
      return this.refuse(policy.hash, errors.join('; '));
    }
    await this.save({
      appliedHash: policy.hash,
      lastFullCheckMs: this.d.clock.now(),
      periodic: tasks,
      failed: undefined,
    });
    this.reportedFailure = '';
    const data = { hash: policy.hash, repaired };
    if (changed) {
      log.info(data, 'desired-state policy applied');
      this.emit('policy_applied', `policy ${policy.hash.slice(0, 12)} applied (${repaired.length} changes)`, data);
    } else if (repaired.length > 0) {
      log.warn(data, 'host had drifted from its desired-state policy: repaired');
      this.emit('policy_drift', `policy ${policy.hash.slice(0, 12)}: ${repaired.length} repairs`, data);
    }
  }

  /** Sub-agent changes through the job queue; what each repaired, or why it failed. */
  private async applySubAgents(policy: DesiredPolicy, repaired: Repair[], errors: string[]): Promise<void> {
    for (const l of policy.leave)
      this.d.logger.warn({ agent: l.name, why: l.why }, 'policy sub-agent not installable here: left as it is');
    const leave = policy.leave.map((l) => l.name);
    const plan = planSubAgents(policy.subagents, this.d.manager?.reports() ?? [], this.state.installed, leave);
    if (plan.changes.length === 0 && plan.record.length === 0 && plan.forget.length === 0) return;
    const pass = this.state.pass + 1;
    // Recorded before anything runs: a crash after the install still knows the policy owns it.
    await this.save({
      pass,
      installed: [...this.state.installed.filter((n) => !plan.forget.includes(n)), ...plan.record],
    });
    const items: LocalJob[] = plan.changes.map((c, i) => {
      const id = `policy-${policy.hash.slice(0, 16)}-${pass}-${i}`;
      return { id, job: { ...c.job, id } as SubAgentJob };
    });
    const outcomes = await Promise.all(await this.d.run(items));
    const drop: string[] = [];
    outcomes.forEach((o, i) => {
      const c = plan.changes[i]!;
      if (o.errcode === 0) {
        repaired.push(c.repair);
        if (c.job.action === 'uninstall') drop.push(c.job.name);
      } else errors.push(`${c.job.action} ${c.job.name}: ${o.message}`);
    });
    // An install that left nothing is not the policy's: a later job's install of the name must not be removed by it.
    const present = new Set((this.d.manager?.reports() ?? []).map((r) => r.name));
    for (const name of plan.record) if (!present.has(name)) drop.push(name);
    if (drop.length > 0) await this.save({ installed: this.state.installed.filter((n) => !drop.includes(n)) });
  }

  /** The managed section made right; returns the tasks now in it. */
  private async repairCrontab(tasks: ManagedTask[], repaired: Repair[], errors: string[]): Promise<ManagedTask[]> {
    try {
      const found = await crontabDrift(this.d.crontab.path, tasks);
      if (found.drift.length === 0) return tasks;
      const reports = this.d.manager?.reports() ?? [];
      const { signalled } = await writeCrontab(this.d.crontab, found.text, tasks, reports);
      this.d.logger.info(
        { path: this.d.crontab.path, changed: found.drift.length, signalled },
        'crontab managed section written',
      );
      for (const x of found.drift)
        repaired.push({ kind: 'periodic', name: x.name, was: x.was ?? null, now: x.now ?? null });
      return tasks;
    } catch (err) {
      errors.push(`crontab ${this.d.crontab.path}: ${(err as Error).message}`);
      return this.state.periodic;
    }
  }

  /** Between pulls: a hand edit of the managed section is put back at once and reported. */
  private async checkCrontab(): Promise<void> {
    const hash = this.state.appliedHash;
    if (hash === undefined) return;
    const repaired: Repair[] = [];
    const errors: string[] = [];
    const found = await crontabDrift(this.d.crontab.path, this.state.periodic).catch(() => undefined);
    if (!found || found.drift.length === 0) return;
    await this.repairCrontab(this.state.periodic, repaired, errors);
    if (errors.length > 0) {
      this.d.logger.error({ errors }, 'cannot repair the crontab managed section');
      return;
    }
    const data = { hash, repaired };
    this.d.logger.warn(data, 'crontab managed section edited by hand: repaired');
    this.emit('policy_drift', `policy ${hash.slice(0, 12)}: crontab managed section repaired`, data);
  }

  /** A document refused or a change failed: nothing more is done now; one event per reason. */
  private async refuse(hash: string, error: string): Promise<void> {
    const retryAtMs = this.d.clock.now() + (this.d.retrySec ?? Math.min(this.d.fullCheckSec, 3600)) * 1000;
    await this.save({ failed: { hash, retryAtMs, error: error.slice(0, 1024) } });
    this.d.logger.error({ hash, error }, 'desired-state policy not applied; the host keeps running what it ran');
    const key = `${hash}\n${error}`;
    if (this.reportedFailure === key) return;
    this.reportedFailure = key;
    this.emit('policy_failed', `policy ${hash.slice(0, 12)} not applied: ${error}`.slice(0, 1024), {
      hash,
      error: error.slice(0, 1024),
    });
  }

  private emit(kind: 'policy_applied' | 'policy_drift' | 'policy_failed', message: string, data: object): void {
    this.d.journal.emit(kind, message, { agent: BOOT_AGENT_NAME, data: { ...data } });
  }

  /** State in memory first (the truth); a failed write (full disk) is logged and retried with the next save. */
  private async save(patch: PolicyPatch): Promise<void> {
    const { failed, ...rest } = patch;
    this.state = { ...this.state, ...rest };
    if (failed !== undefined) this.state.failed = failed;
    else if ('failed' in patch) delete this.state.failed;
    await savePolicyState(this.d.stateDir, this.state).catch((err: unknown) =>
      this.d.logger.error({ err }, 'cannot write the policy state; going on from memory'),
    );
  }
}
