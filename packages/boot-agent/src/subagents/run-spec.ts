/**
 * The run spec of a sub-agent: `agent.json` at the top of its .tar.gz (or anywhere in its .rpm).
 * Fields follow design.md §3 "Supervision"'s daemon table (start stop stop_timeout check check_interval user
 * group pidfile env limits version). Parsed once at the edge; every bad field is listed.
 */
import { AspireError, type Limits } from '@aspire/protocol';
import { applyEnvRule } from './env-rule.ts';
import { parseSocket, type SocketTarget } from './socket-check.ts';

export const RUN_SPEC_FILE = 'agent.json';

export type StopSpec = { kind: 'kill'; signal: NodeJS.Signals } | { kind: 'process'; argv: string[] };

export interface RunSpec {
  name?: string | undefined;
  version: string;
  /** argv of the start command; a relative argv[0] is resolved against the version dir. */
  start: string[];
  stop: StopSpec;
  /** Seconds between the stop and SIGKILL to the process group; undefined = config default. */
  stopTimeoutSec?: number | undefined;
  /** 'process' (pid alive) or the argv of a check command (exit 0 = healthy). */
  check: 'process' | string[];
  checkIntervalSec?: number | undefined;
  user?: string | undefined;
  group?: string | undefined;
  pidfile?: string | undefined;
  /** design.md §3 "Supervision" `socket`: connected to at every check interval; no connection counts like a failed check. */
  socket?: SocketTarget;
  env: Record<string, string>;
  limits: ParsedLimits;
  /** design.md §3 "Supervision" `precheck`: run before every start; non-zero = the start fails. */
  precheck?: string[] | undefined;
  /** design.md §3 "Supervision" `precheck_retries`: attempts of the precheck before giving up (default 1). */
  precheckAttempts: number;
  /** design.md §3 "Supervision" `start_delay`: a start/install/restart job waits this long and fails if the agent died meanwhile. */
  startDelaySec?: number | undefined;
}

export interface ParsedLimits {
  /** Percent of one CPU (100 = one full core). */
  cpuPercent?: number | undefined;
  memoryBytes?: number | undefined;
  /** Watchdog: consecutive violations before the kill. */
  hits: number;
}

export class RunSpecError extends AspireError<'ERUNSPEC'> {
  constructor(readonly problems: string[]) {
    super('ERUNSPEC', `invalid ${RUN_SPEC_FILE}: ${problems.join('; ')}`);
  }
}

const SIGNALS = new Set<string>(['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGKILL']);
const SIGNAL_NUMBERS: Record<string, NodeJS.Signals> = {
  '1': 'SIGHUP',
  '2': 'SIGINT',
  '3': 'SIGQUIT',
  '9': 'SIGKILL',
  '10': 'SIGUSR1',
  '12': 'SIGUSR2',
  '15': 'SIGTERM',
};

/**
 * Split a command line into argv without a shell: whitespace separates, single and double
 * quotes group, backslash escapes the next character. No globbing, no variables, no pipes:
 * a spec is data, and `$(...)` in it stays literal.
 */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote in ${JSON.stringify(line)}`);
  if (has) out.push(cur);
  return out;
}

function commandField(v: unknown, key: string, problems: string[]): string[] | undefined {
  if (Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string' && s.length > 0)) return v as string[];
  if (typeof v === 'string' && v.trim()) {
    try {
      return splitCommand(v);
    } catch (err) {
      problems.push(`${key}: ${(err as Error).message}`);
      return undefined;
    }
  }
  problems.push(`${key}: must be a command line string or a non-empty argv array`);
  return undefined;
}

/**
 * `kill:SIGTERM`, `kill:15`, `process:/path/stop arg` (design.md §3 "Supervision" `<process|kill>:argument`), or a
 * bare command line as the design's daemon example writes it (`/your/program/path/stop`): run
 * like `process:`.
 */
export function parseStop(v: unknown, problems: string[]): StopSpec {
  if (v === undefined) return { kind: 'kill', signal: 'SIGTERM' };
  if (typeof v !== 'string') {
    problems.push('stop: must be "kill:SIGNAL", "process:COMMAND" or a command line');
    return { kind: 'kill', signal: 'SIGTERM' };
  }
  const m = /^(kill|process):(.*)$/s.exec(v.trim());
  if (!m) {
    const argv = commandField(v, 'stop', problems);
    return argv ? { kind: 'process', argv } : { kind: 'kill', signal: 'SIGTERM' };
  }
  if (m[1] === 'kill') {
    const raw = m[2]!.trim().toUpperCase();
    const sig = SIGNAL_NUMBERS[raw] ?? (SIGNALS.has(raw) ? raw : SIGNALS.has(`SIG${raw}`) ? `SIG${raw}` : undefined);
    if (!sig) {
      problems.push(`stop: unknown signal ${JSON.stringify(m[2])}`);
      return { kind: 'kill', signal: 'SIGTERM' };
    }
    return { kind: 'kill', signal: sig as NodeJS.Signals };
  }
  const argv = commandField(m[2], 'stop', problems);
  return argv ? { kind: 'process', argv } : { kind: 'kill', signal: 'SIGTERM' };
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** Job/spec limits: `cpu` or `CPU` "10%", `memory` "20M" (K/M/G, powers of 1024), `hits`. */
export function parseLimits(raw: Limits | Record<string, unknown> | undefined, problems: string[] = []): ParsedLimits {
  const out: ParsedLimits = { hits: 5 };
  if (raw === undefined || raw === null) return out;
  if (typeof raw !== 'object') {
    problems.push('limits: must be an object');
    return out;
  }
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (!['cpu', 'CPU', 'memory', 'hits'].includes(key)) problems.push(`limits.${key}: unknown key`);
  }
  const cpu = r.cpu ?? r.CPU;
  if (cpu !== undefined) {
    const m = typeof cpu === 'string' ? /^(\d+(?:\.\d+)?)%$/.exec(cpu.trim()) : null;
    const pct = m ? Number(m[1]) : NaN;
    if (!m || pct <= 0 || pct > 100 * 1024)
      problems.push(`limits.cpu: ${JSON.stringify(cpu)} is not a percentage like "10%"`);
    else out.cpuPercent = pct;
  }
  if (r.memory !== undefined) {
    const m = typeof r.memory === 'string' ? /^(\d+(?:\.\d+)?)([KkMmGg]?)[Bb]?$/.exec(r.memory.trim()) : null;
    const bytes = m ? Math.floor(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!) : NaN;
    if (!m || bytes < 1024 * 1024)
      problems.push(`limits.memory: ${JSON.stringify(r.memory)} is not a size of at least 1M like "20M"`);
    else out.memoryBytes = bytes;
  }
  if (r.hits !== undefined) {
    if (typeof r.hits !== 'number' || !Number.isInteger(r.hits) || r.hits < 1 || r.hits > 1000)
      problems.push('limits.hits: must be an integer 1..1000');
    else out.hits = r.hits;
  }
  return out;
}

function optPositive(r: Record<string, unknown>, key: string, problems: string[], max: number): number | undefined {
  const v = r[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > max) {
    problems.push(`${key}: must be a number of seconds in (0, ${max}]`);
    return undefined;
  }
  return v;
}

function optName(r: Record<string, unknown>, key: string, problems: string[]): string | undefined {
  const v = r[key];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') {
    problems.push(`${key}: must be a name or a numeric id`);
    return undefined;
  }
  return String(v);
}

const KNOWN = [
  'name',
  'version',
  'start',
  'stop',
  'stop_timeout',
  'check',
  'check_interval',
  'user',
  'group',
  'pidfile',
  'env',
  'limits',
  'precheck',
  'precheck_retries',
  'start_delay',
  'socket',
  'url',
];

/** Parse an agent.json value; throws RunSpecError listing every bad field. */
export function parseRunSpec(raw: unknown): RunSpec {
  const problems: string[] = [];
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new RunSpecError(['must be a JSON object']);
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!KNOWN.includes(key)) problems.push(`${key}: unknown key`);
  const version =
    typeof r.version === 'string' && /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}$/.test(r.version) ? r.version : undefined;
  if (!version) problems.push('version: required, letters digits . _ + ~ - (max 64)');
  const start = commandField(r.start, 'start', problems);
  const stop = parseStop(r.stop, problems);
  let check: RunSpec['check'] = 'process';
  if (r.check !== undefined && r.check !== 'process') {
    const argv = commandField(r.check, 'check', problems);
    if (argv) check = argv;
  }
  const env: Record<string, string> = {};
  if (r.env !== undefined) {
    if (!r.env || typeof r.env !== 'object' || Array.isArray(r.env)) problems.push('env: must be an object of strings');
    else
      for (const [k, v] of Object.entries(r.env)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || typeof v !== 'string')
          problems.push(`env.${k}: must be NAME: "string"`);
        else env[k] = v;
      }
  }
  if (r.pidfile !== undefined && (typeof r.pidfile !== 'string' || !r.pidfile.startsWith('/')))
    problems.push('pidfile: must be an absolute path');
  const envRule = applyEnvRule(env, 'env');
  problems.push(...envRule.problems);
  const socket = parseSocket(r.socket, problems);
  const spec: RunSpec = {
    name: typeof r.name === 'string' ? r.name : undefined,
    version: version ?? '',
    start: start ?? [],
    stop,
    stopTimeoutSec: optPositive(r, 'stop_timeout', problems, 3600),
    check,
    checkIntervalSec: optPositive(r, 'check_interval', problems, 86400),
    user: optName(r, 'user', problems),
    group: optName(r, 'group', problems),
    pidfile: typeof r.pidfile === 'string' ? r.pidfile : undefined,
    ...(socket ? { socket } : {}),
    env: envRule.env,
    limits: parseLimits(r.limits as Record<string, unknown> | undefined, problems),
    precheck:
      r.precheck !== undefined && r.precheck !== '' ? commandField(r.precheck, 'precheck', problems) : undefined,
    precheckAttempts: 1,
    startDelaySec: optPositive(r, 'start_delay', problems, 3600),
  };
  if (r.precheck_retries !== undefined) {
    const n = r.precheck_retries;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 100)
      problems.push('precheck_retries: must be an integer 0..100');
    else spec.precheckAttempts = Math.max(1, n);
  }
  if (problems.length > 0) throw new RunSpecError(problems);
  return spec;
}

/** Job limits win over the spec's, key by key. */
export function mergeLimits(spec: ParsedLimits, job: ParsedLimits | undefined): ParsedLimits {
  if (!job) return spec;
  return {
    cpuPercent: job.cpuPercent ?? spec.cpuPercent,
    memoryBytes: job.memoryBytes ?? spec.memoryBytes,
    hits: job.hits !== 5 ? job.hits : spec.hits,
  };
}
