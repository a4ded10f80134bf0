// The console's task view helpers (issue 13): rollout settings, per-subtask actions, and task
// times (ISO 8601 UTC from the API) shown in local time.
import { describe, expect, it } from 'vitest';
import { subtaskActions, taskSettings } from '../console/src/lib/task-text.ts';
import { taskFields } from '../console/src/lib/task-fields.ts';
import { formatLocal } from '../console/src/lib/time.ts';

describe('console task view helpers', () => {
  it('taskSettings names priority, max_errors, batch, dependencies and a halt', () => {
    expect(
      taskSettings({
        priority: 1024,
        max_errors: 0,
        max_errors_pct: null,
        batch: 0,
        batch_pct: null,
        after: [],
        halt_reason: null,
      }),
    ).toEqual(['priority 1024', 'max_errors 0']);
    expect(
      taskSettings({
        priority: 5,
        max_errors: 0,
        max_errors_pct: 10,
        batch: 0,
        batch_pct: 50,
        after: [3, 4],
        halt_reason: 'halted: 2 failed subtasks exceed max_errors 10% (1)',
      }),
    ).toEqual([
      'priority 5',
      'max_errors 10%',
      'batch 50%',
      'after #3, #4',
      'halted: 2 failed subtasks exceed max_errors 10% (1)',
    ]);
    expect(
      taskSettings({
        priority: 1,
        max_errors: null,
        max_errors_pct: null,
        batch: 2,
        batch_pct: null,
        after: [],
        halt_reason: null,
      }),
    ).toEqual(['priority 1', 'max_errors no limit', 'batch 2']);
  });

  it('subtaskActions offers what the server accepts in each state', () => {
    expect(subtaskActions('RESERVED')).toEqual(['revoke', 'touch']);
    expect(subtaskActions('BURIED')).toEqual(['kick', 'retry', 'revoke']);
    expect(subtaskActions('DELAYED')).toEqual(['kick', 'revoke']);
    expect(subtaskActions('PENDING')).toEqual(['revoke']);
    expect(subtaskActions('SUCCESS')).toEqual([]);
    // FAILED and REVOKED run again by retry, in a RUNNING, COMPLETE or HALTED task; never in a REVOKED task.
    for (const status of ['RUNNING', 'COMPLETE', 'HALTED']) {
      expect(subtaskActions('FAILED', status)).toEqual(['retry']);
      expect(subtaskActions('REVOKED', status)).toEqual(['retry']);
    }
    for (const state of ['SUCCESS', 'FAILED', 'REVOKED']) expect(subtaskActions(state, 'REVOKED')).toEqual([]);
    expect(subtaskActions('BURIED', 'REVOKED')).toEqual(['kick', 'revoke']);
  });

  it('taskFields shows ISO times in local time, other strings as they are', () => {
    const iso = '2026-01-02T03:04:05.000Z';
    const rows = taskFields({ id: 1, gmt_create: iso, start_at: null, user: '2026-not-a-time' });
    expect(rows).toEqual([
      { name: 'gmt_create', value: formatLocal(iso) },
      { name: 'start_at', value: '—' },
      { name: 'user', value: '2026-not-a-time' },
    ]);
    expect(formatLocal(iso)).not.toBe(iso);
  });
});
