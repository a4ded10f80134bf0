import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRunSpec } from '../../boot-agent/src/subagents/run-spec.ts';

// The run spec BootAgent uses to supervise BasicAgent must pass BootAgent's own parser.
describe('BasicAgent run spec (agent.json)', () => {
  it('parses with the BootAgent run-spec parser and runs the daemon in the foreground', () => {
    const spec = parseRunSpec(JSON.parse(readFileSync(join(import.meta.dirname, '../run-spec/agent.json'), 'utf8')));
    expect(spec.start[0]).toBe('/usr/bin/BasicAgent');
    expect(spec.start).toContain('-f');
    expect(spec.pidfile).toBe(spec.start[spec.start.indexOf('-P') + 1]);
    expect(spec.stop).toEqual({ kind: 'kill', signal: 'SIGTERM' });
  });
});
