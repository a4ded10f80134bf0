// The CLI's time column reads both forms the REST API sends: ISO 8601 UTC strings (task,
// subtask and package times since issue 13) and unix ms (host times).
import { expect, it } from 'vitest';
import { when } from '../src/cli/output.ts';

it('when() shows ISO strings and unix ms the same way; anything else is blank', () => {
  const ms = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  expect(when(ms)).toBe('2026-01-02T03:04:05Z');
  expect(when(new Date(ms).toISOString())).toBe('2026-01-02T03:04:05Z');
  expect(when(null)).toBe('');
  expect(when('yesterday')).toBe('');
});
