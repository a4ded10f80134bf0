/**
 * Wiring of the desired-state convergence for createBootAgent: one call, so the BootAgent's
 * loop only holds the object and hands it each answered push.
 */
import type { KeyObject } from 'node:crypto';
import type { Clock } from '@aspire/agent-core';
import { verifySigned } from '@aspire/protocol';
import type { Logger } from 'pino';
import type { DesiredStateConfig } from '../config/policy-config.ts';
import type { SubAgentManager } from '../contracts.ts';
import type { JobRunner } from '../jobs/job-runner.ts';
import { acceptLocalJobs } from '../jobs/local-jobs.ts';
import type { Transport } from '../net/http-transport.ts';
import type { JobJournal } from '../state/job-journal.ts';
import { PolicySync } from './policy-sync.ts';

export { PolicySync };

export interface PolicySyncWiring {
  config: DesiredStateConfig;
  clock: Clock;
  logger: Logger;
  stateDir: string;
  transport: Transport;
  journal: JobJournal;
  manager: SubAgentManager | undefined;
  runner: JobRunner;
  agentsn: () => string;
  credential: () => string | undefined;
  /** The pinned server keys (the same pin jobs are checked against). */
  keys: () => readonly KeyObject[];
}

export function createPolicySync(w: PolicySyncWiring): PolicySync {
  return new PolicySync({
    clock: w.clock,
    logger: w.logger,
    stateDir: w.stateDir,
    transport: w.transport,
    journal: w.journal,
    manager: w.manager,
    agentsn: w.agentsn,
    credential: w.credential,
    verify: (doc) => verifySigned('policy', doc, { keys: w.keys(), agentsn: w.agentsn(), nowMs: w.clock.now() }),
    run: (items) =>
      acceptLocalJobs({ runner: w.runner, journal: w.journal, manager: w.manager, logger: w.logger }, items),
    fullCheckSec: w.config.fullCheckSec,
    crontab: { path: w.config.crontab, agent: w.config.crontabAgent },
  });
}
