// Filled in by scripts/build.mjs (esbuild define); running from source gives the dev values.
declare const __ASPIRE_VERSION__: string | undefined;
declare const __BOOT_SERVER_ADDR__: string | undefined;

/** Version of this build (ASPIRE_VERSION at build time, else the root package.json version). */
export const VERSION: string = typeof __ASPIRE_VERSION__ !== 'undefined' ? __ASPIRE_VERSION__ : '0.0.0-dev';

/**
 * Compiled-in default server list (seed 002 -DBOOT_SERVER_ADDR). Empty by default: the seeds'
 * example hosts are never a default anything can reach.
 */
export const BUILD_SERVER_ADDR: string = typeof __BOOT_SERVER_ADDR__ !== 'undefined' ? __BOOT_SERVER_ADDR__ : '';
