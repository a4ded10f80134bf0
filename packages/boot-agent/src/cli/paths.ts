/**
 * Where boot keeps things (design.md §2). Each path: flag, else environment (tests),
 * else the packaged default. Resolved to absolute paths once, here, so a daemonized child with
 * cwd / sees the same files.
 */
import { resolve } from 'node:path';

export const DEFAULT_PATHS = {
  config: '/etc/bootagent/boot.json',
  stateDir: '/var/lib/bootagent',
  log: '/var/log/bootagent/boot.log',
  pidfile: '/run/bootagent.pid',
} as const;

/** Environment overrides (for tests and unusual installs); flags win over them. */
export const PATH_ENV = {
  config: 'BOOT_CONFIG',
  stateDir: 'BOOT_STATE_DIR',
  log: 'BOOT_LOG',
  pidfile: 'BOOT_PIDFILE',
} as const;

export interface BootPaths {
  config: string;
  /** True when the operator named the config file (flag or env): then it must exist. */
  configExplicit: boolean;
  stateDir: string;
  log: string;
  pidfile: string;
}

export function resolvePaths(
  flags: { config?: string; stateDir?: string; log?: string; pidfile?: string },
  env: NodeJS.ProcessEnv,
): BootPaths {
  const pick = (k: keyof typeof DEFAULT_PATHS) => resolve(flags[k] ?? env[PATH_ENV[k]] ?? DEFAULT_PATHS[k]);
  return {
    config: pick('config'),
    configExplicit: flags.config !== undefined || env[PATH_ENV.config] !== undefined,
    stateDir: pick('stateDir'),
    log: pick('log'),
    pidfile: pick('pidfile'),
  };
}
