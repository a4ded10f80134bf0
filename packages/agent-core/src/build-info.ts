import { machine } from 'node:os';

// Filled in by scripts/build.mjs (esbuild define); running from source gives the dev values.
declare const __ASPIRE_VERSION__: string | undefined;
declare const __BOOT_SERVER_ADDR__: string | undefined;

/** Version of this build (ASPIRE_VERSION at build time, else the root package.json version). */
export const VERSION: string = typeof __ASPIRE_VERSION__ !== 'undefined' ? __ASPIRE_VERSION__ : '0.0.0-dev';

/**
 * Compiled-in default server list (design.md §3 -DBOOT_SERVER_ADDR). Empty by default: the design's
 * example hosts are never a default anything can reach.
 */
export const BUILD_SERVER_ADDR: string = typeof __BOOT_SERVER_ADDR__ !== 'undefined' ? __BOOT_SERVER_ADDR__ : '';

/**
 * The one `--version` line of every program (`boot`, `BasicAgent`, `BasicAgentCtl`, `aspire`):
 * `NAME VERSION (node 24.x.y, ARCH)`, ARCH as the kernel names it (x86_64, aarch64) like the RPMs.
 */
export function versionLine(name: string): string {
  return `${name} ${VERSION} (node ${process.versions.node}, ${machine()})`;
}

/** Exit codes shared by the four programs (README "Command lines", docs/install.md). */
export const EXIT_CODES = { OK: 0, FAILURE: 1, USAGE: 2, RUNNING: 3 } as const;
