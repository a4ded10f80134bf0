/** @aspire/server: the server as a library (the `aspire` binary is main.ts). */
export { buildServer, OPENAPI_PATH, type AspireServer, type ServerDeps } from './app.ts';
export type { AppContext } from './app-context.ts';
export { checkConfig, parseListen, type ServerConfig, type RateLimitConfig } from './config.ts';
export { openSqliteStore, SqliteStore } from './store/sqlite-store.ts';
export type * from './store/store.ts';
export * from './tasks/state-machine.ts';
