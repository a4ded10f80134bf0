// Pure (no DOM).
import type { Task } from '../api/types.ts';

/** "install FoobarAgent 1.2.3": the command with the package it names, as lists show a task. */
export function taskSummary(t: Pick<Task, 'command' | 'parameters'>): string {
  const p = t.parameters;
  return `${t.command} ${typeof p.name === 'string' ? p.name : ''} ${typeof p.version === 'string' ? p.version : ''}`;
}

/** "priority 10 · max_errors 10% · batch 2 · after #3, #4 · starts <ISO>": the rollout settings a task view shows. */
export function taskSettings(
  t: Pick<Task, 'priority' | 'max_errors' | 'max_errors_pct' | 'batch' | 'batch_pct' | 'after' | 'halt_reason'>,
): string[] {
  const out = [`priority ${t.priority}`];
  out.push(
    `max_errors ${t.max_errors_pct !== null && t.max_errors_pct !== undefined ? `${t.max_errors_pct}%` : t.max_errors === null ? 'no limit' : t.max_errors}`,
  );
  const batch = t.batch_pct !== null && t.batch_pct !== undefined ? `${t.batch_pct}%` : t.batch;
  if (batch) out.push(`batch ${batch}`);
  if (t.after?.length) out.push(`after ${t.after.map((id) => `#${id}`).join(', ')}`);
  if (t.halt_reason) out.push(t.halt_reason);
  return out;
}

export type SubtaskAction = 'revoke' | 'kick' | 'touch' | 'retry';

/**
 * The per-subtask actions an operator may take in a state (the server refuses the others); a
 * REVOKED task offers no retry (it runs nothing more).
 */
export function subtaskActions(state: string, taskStatus?: string): SubtaskAction[] {
  if (state === 'RESERVED') return ['revoke', 'touch'];
  if (state === 'BURIED') return taskStatus === 'REVOKED' ? ['kick', 'revoke'] : ['kick', 'retry', 'revoke'];
  if (state === 'DELAYED') return ['kick', 'revoke'];
  if (state === 'PENDING' || state === 'READY') return ['revoke'];
  if ((state === 'FAILED' || state === 'REVOKED') && taskStatus !== 'REVOKED') return ['retry'];
  return [];
}
