/**
 * The status push body: exactly design.md §3's fields (hostname, agentsn, version, uptime,
 * timestamp, step, agents, jobs), extended per design.md with events, eventsDropped, os, arch, tags.
 */
import { arch as nodeArch, platform, release } from 'node:os';
import { VERSION } from '@aspire/agent-core';
import type { AgentReport, SelfReport, StatusRequest } from '@aspire/protocol';
import type { PushPayload } from '../state/job-journal.ts';

/** Machine names as RPM and the design's version string spell them. */
export function machineArch(a: string = nodeArch()): string {
  return a === 'x64' ? 'x86_64' : a === 'arm64' ? 'aarch64' : a;
}

/** Seed 002's example: "bootagent-1.2.4-x86_64". */
export function bootVersionString(): string {
  return `bootagent-${VERSION}-${machineArch()}`.slice(0, 64);
}

/**
 * The OS type as packages are published for it (design.md §5 agents.os: "linux"), so the server can
 * match a host to a package; the kernel release travels separately in `kernel`.
 */
export function osString(): string {
  return platform();
}

export function kernelRelease(): string {
  return release().slice(0, 128);
}

/** What the process itself uses (memoryUsage, cpuUsage): the self-report's resource half. */
export interface ProcessUsage {
  rssBytes: number;
  cpuSeconds: number;
}

export function processUsage(): ProcessUsage {
  const cpu = process.cpuUsage();
  return { rssBytes: process.memoryUsage.rss(), cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** The self-report of a push: resource use plus queue lengths, every number a whole, non-negative one. */
export function selfReport(usage: ProcessUsage, queues: { jobs: number; results: number; events: number }): SelfReport {
  const whole = (n: number) => Math.max(0, Math.floor(n));
  return {
    rssBytes: whole(usage.rssBytes),
    cpuSeconds: Math.max(0, Math.round(usage.cpuSeconds * 1000) / 1000),
    jobQueue: whole(queues.jobs),
    resultQueue: whole(queues.results),
    eventQueue: whole(queues.events),
  };
}

export interface StatusFields {
  hostname: string;
  agentsn: string;
  uptimeSec: number;
  nowSec: number;
  step: number;
  agents: AgentReport[];
  payload: PushPayload;
  tags?: string;
  self?: SelfReport;
}

export function statusBody(f: StatusFields): StatusRequest {
  const body: StatusRequest = {
    hostname: f.hostname,
    agentsn: f.agentsn,
    version: bootVersionString(),
    uptime: Math.max(0, Math.floor(f.uptimeSec)),
    timestamp: f.nowSec,
    step: f.step,
    agents: f.agents,
    jobs: f.payload.jobs,
    events: f.payload.events,
    eventsDropped: f.payload.eventsDropped,
    os: osString(),
    kernel: kernelRelease(),
    arch: machineArch(),
  };
  if (f.tags !== undefined) body.tags = f.tags;
  if (f.self !== undefined) body.self = f.self;
  return body;
}
