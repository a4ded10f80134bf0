import { readFileSync } from 'node:fs';
import os from 'node:os';
import { noArgs, type Collector } from './collector.ts';

export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!.toLowerCase()] = m[2]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  return out;
}

/** /etc/os-release (or /usr/lib/os-release) plus the platform. */
export const osCollector: Collector = {
  name: 'os',
  async run(args) {
    noArgs('os', args);
    let rel: Record<string, string> = {};
    for (const p of ['/etc/os-release', '/usr/lib/os-release']) {
      try {
        rel = parseOsRelease(readFileSync(p, 'utf8'));
        break;
      } catch {
        /* try the next */
      }
    }
    return {
      platform: os.platform(),
      id: rel.id ?? null,
      name: rel.name ?? null,
      version_id: rel.version_id ?? null,
      pretty_name: rel.pretty_name ?? null,
      id_like: rel.id_like ?? null,
    };
  },
};
