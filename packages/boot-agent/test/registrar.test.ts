import { describe, expect, it } from 'vitest';
import { silentLogger } from '@aspire/agent-core';
import type { Validator } from '@aspire/protocol';
import { ManualClock } from '@aspire/testing';
import { REGISTER_BACKOFF, registerUntilDone } from '../src/loop/registrar.ts';
import type { Transport } from '../src/net/http-transport.ts';
import type { Outcome } from '../src/net/outcome.ts';

// Issue 16 item 6 from the agent's side: a server that refuses a taken agentsn with 409 (this
// host cannot prove it is its owner) makes the registrar propose a fresh one, after the ordinary
// backoff (not the minute-long floor of a refusal: the host would stay off the fleet meanwhile).
describe('registerUntilDone', () => {
  it('proposes a fresh agentsn after a 409 when it has no credential, within the ordinary backoff', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
    const asked: string[] = [];
    const askedAt: number[] = [];
    const transport: Transport = {
      async post<T>(
        _s: string,
        _p: string,
        body: unknown,
        _h: Record<string, string>,
        check: Validator<T>,
      ): Promise<Outcome<T>> {
        const sn = (body as { agentsn: string }).agentsn;
        asked.push(sn);
        askedAt.push(clock.now());
        if (sn === 'taken') return { kind: 'fatal', reason: 'conflict', status: 409 };
        const v = check.validate({ status: 0, agentsn: sn, credential: 'c' });
        return v.ok ? { kind: 'ok', status: 200, value: v.value } : { kind: 'fatal', reason: 'bad' };
      },
      close: async () => {},
    };
    const done = registerUntilDone({
      clock,
      logger: silentLogger(),
      transport,
      servers: () => ['http://127.0.0.1:1'],
      request: { hostname: 'h', agentsn: 'taken' },
      freshAgentsn: () => 'fresh-1',
      signal: new AbortController().signal,
    });
    for (let i = 0; i < 200 && asked.length < 2; i++) {
      await new Promise((r) => setImmediate(r));
      await clock.advance(1000);
    }
    const reg = await done;
    expect(asked).toEqual(['taken', 'fresh-1']);
    // The first round's backoff is base..2*base, far below the refusal floor.
    expect(askedAt[1]! - askedAt[0]!).toBeLessThanOrEqual(2 * REGISTER_BACKOFF.baseMs + 1000);
    expect(reg.reply.agentsn).toBe('fresh-1');
  });
});
