/**
 * Clean what a BootAgent killed mid-job left: temp downloads, half-extracted staging dirs,
 * and an agent dir whose install never reached its state.json. Run once at the manager's start.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { layout } from './agent-state.ts';

export function sweepLeftovers(stateDir: string, tmpDir: string, log: Logger): void {
  const ls = (dir: string): string[] => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  for (const f of ls(tmpDir)) rmSync(join(tmpDir, f), { recursive: true, force: true });
  for (const name of ls(stateDir)) {
    if (name.startsWith('.')) continue;
    const l = layout(stateDir, name);
    if (!existsSync(l.stateFile)) {
      log.warn({ agent: name }, 'removing a sub-agent dir left by an interrupted install');
      rmSync(l.root, { recursive: true, force: true });
      continue;
    }
    for (const v of ls(l.versionsDir))
      if (v.startsWith('.staging-')) rmSync(join(l.versionsDir, v), { recursive: true, force: true });
  }
}
