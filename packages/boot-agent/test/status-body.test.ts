import { describe, expect, it } from 'vitest';
import { statusRequest } from '@aspire/protocol';
import { processUsage, selfReport, statusBody } from '../src/loop/status-body.ts';

describe('status body self-report', () => {
  it('rounds the usage to whole, non-negative numbers and keeps the queue lengths', () => {
    expect(selfReport({ rssBytes: 1234.7, cpuSeconds: 1.23456 }, { jobs: 2, results: 1, events: 5 })).toEqual({
      rssBytes: 1234,
      cpuSeconds: 1.235,
      jobQueue: 2,
      resultQueue: 1,
      eventQueue: 5,
    });
    expect(selfReport({ rssBytes: -1, cpuSeconds: -0.5 }, { jobs: -1, results: 0, events: 0 })).toMatchObject({
      rssBytes: 0,
      cpuSeconds: 0,
      jobQueue: 0,
    });
  });

  it('the process usage is real: some resident memory and CPU time', () => {
    const u = processUsage();
    expect(u.rssBytes).toBeGreaterThan(1024 * 1024);
    expect(u.cpuSeconds).toBeGreaterThan(0);
  });

  it('a push with the self-report passes the protocol validator the server uses; a bad one does not', () => {
    const body = statusBody({
      hostname: 'h1',
      agentsn: 'sn-1',
      uptimeSec: 10,
      nowSec: 1_700_000_000,
      step: 5,
      agents: [],
      payload: { jobs: [], events: [], eventsDropped: 0 },
      self: selfReport(processUsage(), { jobs: 0, results: 0, events: 3 }),
    });
    expect(body.self?.eventQueue).toBe(3);
    expect(statusRequest.validate(body).ok).toBe(true);
    expect(statusRequest.validate({ ...body, self: { ...body.self, rssBytes: -5 } }).ok).toBe(false);
  });
});
