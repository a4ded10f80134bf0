// Pure helpers of the console's host page, Run and Tasks pages (no DOM).
import { describe, expect, it } from 'vitest';
import { inventoryRows, limitsText } from '../console/src/lib/inventory.ts';
import { runSummary, succeeded, type RunRow } from '../console/src/lib/run-results.ts';
import { taskFields } from '../console/src/lib/task-fields.ts';

describe('inventory rows', () => {
  it('flattens nested objects and arrays into dotted labels; empty and null values are named', () => {
    expect(inventoryRows({ name: 'Debian', cpu: { cores: 2, flags: ['sse', 'avx'] }, none: null, list: [] })).toEqual([
      { label: 'name', value: 'Debian' },
      { label: 'cpu.cores', value: '2' },
      { label: 'cpu.flags[0]', value: 'sse' },
      { label: 'cpu.flags[1]', value: 'avx' },
      { label: 'none', value: '—' },
      { label: 'list', value: '(none)' },
    ]);
    expect(inventoryRows('plain')).toEqual([{ label: 'value', value: 'plain' }]);
  });
  it('cuts a long answer at 40 rows', () => {
    expect(inventoryRows(Array.from({ length: 100 }, (_, i) => i))).toHaveLength(40);
  });
  it('limits as one line', () => {
    expect(limitsText({ cpu: 50, memory: '256M', nested: { x: 1 } })).toBe('cpu 50, memory 256M');
    expect(limitsText(undefined)).toBe('—');
    expect(limitsText({})).toBe('—');
  });
});

describe('run results', () => {
  const rows: RunRow[] = [
    { host: 'a', pending: false, reply: { resp: 'success', retcode: 0, message: 'Normal termination', data: 'hi' } },
    { host: 'b', pending: false, reply: { resp: 'success', retcode: 3, message: 'Normal termination' } },
    { host: 'c', pending: false, reply: { resp: 'failed', retcode: 0x0301, message: 'no such host' } },
    { host: 'd', pending: false, error: 'HTTP 403' },
    { host: 'e', pending: true },
  ];
  it('exit 0 is success; a non-zero exit, an agent error or a refused request is a failure; pending counts as neither', () => {
    expect(rows.map(succeeded)).toEqual([true, false, false, false, false]);
    expect(runSummary(rows)).toBe('5 hosts: 1 succeeded, 3 failed');
    expect(runSummary(rows.slice(0, 1))).toBe('1 host: 1 succeeded, 0 failed');
  });
});

describe('task fields', () => {
  it('every field the API returns, beyond the list columns; objects as JSON', () => {
    expect(
      taskFields({
        id: 1,
        command: 'config',
        status: 'COMPLETE',
        count: 1,
        complete: 1,
        priority: 5,
        after: [2, 3],
        start_at: null,
        parameters: { step: 1 },
      }),
    ).toEqual([
      { name: 'priority', value: '5' },
      { name: 'after', value: '[2,3]' },
      { name: 'start_at', value: '—' },
      { name: 'parameters', value: '{"step":1}' },
    ]);
  });
});
