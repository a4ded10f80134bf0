// A herd of real boots arriving at once at a server with tight rate limits: the excess is told
// 429 + Retry-After, the agents back off, and every one ends up registered and online.
import { afterAll, describe, expect, it } from 'vitest';
import { startAspire, startBoot, waitUntil, type AspireHandle, type BootHandle } from '@aspire/testing';

let srv: AspireHandle | undefined;
const boots: BootHandle[] = [];

afterAll(async () => {
  for (const b of boots) {
    await b.stop().catch(() => {});
    b.cleanup();
  }
  await srv?.stop();
});

describe('thundering herd', () => {
  it('rate-limited registration and status: all agents get through, none is lost', async () => {
    srv = await startAspire({
      config: { rateLimit: { registerPerSec: 1, registerBurst: 1, statusPerSec: 3, statusBurst: 3 } },
    });
    const s = srv;
    // Step 2: once the herd has settled, four agents push 2/s, under the 3/s status limit, so
    // every host stays online; the burst at start is what the limits must absorb.
    boots.push(
      ...(await Promise.all(
        [0, 1, 2, 3].map(() => startBoot({ serverUrl: s.url, enrollSecret: s.enrollSecret, step: 2 })),
      )),
    );
    const online = await waitUntil(
      async () => {
        const r = await s.api('GET', '/api/v1/server/host?status=online');
        return r.body.count === 4 ? r.body.hosts : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'all four hosts online' },
    );
    expect(new Set(online.map((h: any) => h.agentsn)).size).toBe(4);
    // At least one agent was told to wait, and said so in its log.
    const limited = boots.some((b) => b.logLines().some((l) => JSON.stringify(l).includes('HTTP 429')));
    expect(limited).toBe(true);
    for (const b of boots) expect(b.child.proc.exitCode).toBeNull();
  });
});
