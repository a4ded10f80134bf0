// The resume of an rpm commit waits for an rpm -U left running by a killed boot: found by its argv.
import { spawn } from 'node:child_process';
import { realClock } from '@aspire/agent-core';
import { describe, expect, it } from 'vitest';
import { pidsWithArg, waitForOrphanRpm } from '../src/self-upgrade/orphan-rpm.ts';

describe('orphan rpm -U', () => {
  it('finds a process by an exact argv entry and waits until it has gone', async () => {
    const arg = `/tmp/no-such-dir-${process.pid}/new/package.rpm`;
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1500)', arg], { stdio: 'ignore' });
    await new Promise((r) => child.once('spawn', r));
    expect(pidsWithArg(arg)).toEqual([child.pid]);
    expect(pidsWithArg(`${arg}.other`)).toEqual([]);
    const left = await waitForOrphanRpm(arg, realClock, 30_000);
    expect(left).toEqual([]);
  });

  it('gives up after its timeout and names what still runs', async () => {
    const arg = `/tmp/no-such-dir-${process.pid}/held/package.rpm`;
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', arg], { stdio: 'ignore' });
    await new Promise((r) => child.once('spawn', r));
    try {
      expect(await waitForOrphanRpm(arg, realClock, 300)).toEqual([child.pid]);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
