/**
 * The metafile (design.md §3 "MetaFile"): its absence means first start. Written whole with
 * writeJsonAtomic (temp file + rename in the same directory), so a kill -9 leaves the old or the
 * new file. One writer: the BootAgent control loop.
 */
import { join } from 'node:path';
import { readJsonFile } from '@aspire/agent-core';
import { SerialWriter } from './serial-writer.ts';

export interface MetaFile {
  /** Format version of this file. */
  version: 1;
  agentsn: string;
  /** Per-host credential from /agent/register; sent as x-aspire-credential. */
  credential?: string;
  /** Servers given by -S on first start (design.md §3: persisted, the flag is ignored afterwards). */
  servers: string[];
  /** Servers pushed by the last `config` job with a svrlist (replaces the previous pushed list). */
  pushedServers: string[];
  /** The push step in force (seconds). */
  step: number;
  /**
   * Who set `step`: `server` (a config job: it stays) or `config` (boot.json: it follows the
   * file, so an operator's edit takes effect on the next start).
   */
  stepFrom: ValueSource;
  /** Host tags in force (absent: none). */
  tags?: string;
  /** Who set `tags`: `server` (registration reply or config job) or `config` (boot.json). */
  tagsFrom?: ValueSource;
  /** True once a status push under this agentsn was answered 2xx (design.md §3: only then is it trusted). */
  trusted: boolean;
  /** Unix seconds of the registration that produced this agentsn. */
  registeredAt: number;
}

export type ValueSource = 'config' | 'server';

export const META_FILE = 'meta.json';

export type MetaRead = { kind: 'missing' } | { kind: 'ok'; meta: MetaFile } | { kind: 'corrupt'; error: string };

export function metaPath(stateDir: string): string {
  return join(stateDir, META_FILE);
}

export function readMeta(stateDir: string): MetaRead {
  const r = readJsonFile<Partial<MetaFile>>(metaPath(stateDir));
  if (r.kind !== 'ok') return r;
  const m = r.value;
  if (!m || typeof m !== 'object' || typeof m.agentsn !== 'string' || m.agentsn.length === 0) {
    return { kind: 'corrupt', error: 'no agentsn in metafile' };
  }
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
  const meta: MetaFile = {
    version: 1,
    agentsn: m.agentsn,
    servers: strings(m.servers),
    pushedServers: strings(m.pushedServers),
    trusted: m.trusted === true,
    registeredAt: typeof m.registeredAt === 'number' ? m.registeredAt : 0,
    // Unknown or bad: follow boot.json (settleWithConfig fills the value in).
    step: typeof m.step === 'number' && Number.isInteger(m.step) && m.step >= 1 ? m.step : 0,
    stepFrom: m.stepFrom === 'server' && typeof m.step === 'number' && m.step >= 1 ? 'server' : 'config',
  };
  if (typeof m.credential === 'string') meta.credential = m.credential;
  if (typeof m.tags === 'string') {
    meta.tags = m.tags;
    meta.tagsFrom = m.tagsFrom === 'config' ? 'config' : 'server';
  }
  return { kind: 'ok', meta };
}

/** Values that came from boot.json follow boot.json as it is now; server-set values stay. */
export function settleWithConfig(meta: MetaFile, config: { step: number; tags?: string }): MetaFile {
  const out: MetaFile = { ...meta };
  if (out.stepFrom !== 'server') {
    out.step = config.step;
    out.stepFrom = 'config';
  }
  if (out.tagsFrom !== 'server') {
    delete out.tags;
    delete out.tagsFrom;
    if (config.tags !== undefined) {
      out.tags = config.tags;
      out.tagsFrom = 'config';
    }
  }
  return out;
}

/** Serialises writes: the last state asked for is the one that ends up on disk. */
export class MetaStore {
  private readonly writer: SerialWriter;
  constructor(
    stateDir: string,
    private current: MetaFile,
  ) {
    this.writer = new SerialWriter(metaPath(stateDir));
  }

  get meta(): Readonly<MetaFile> {
    return this.current;
  }

  update(patch: Partial<MetaFile>): Promise<void> {
    this.current = { ...this.current, ...patch };
    return this.writer.write(() => this.current);
  }

  /** Resolves when every write asked for so far is on disk. */
  flush(): Promise<void> {
    return this.writer.flush();
  }
}
