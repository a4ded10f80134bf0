/**
 * The web console's built files. This stub is what the server sees when it runs from source
 * (unit tests); scripts/build.mjs replaces the whole module in the aspire bundle with the
 * strings built from packages/server/console (see packages/server/console/build.mjs), so the
 * single executable serves the console without reading any file.
 */
export interface ConsoleAssets {
  html: string;
  js: string;
  css: string;
  /** Content hash of js and css: the ETag, and the ?v= of the asset URLs in html. */
  etag: string;
}

export const CONSOLE_ASSETS: ConsoleAssets | null = null;
