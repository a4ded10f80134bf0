export * from './clock.ts';
export * from './backoff.ts';
export * from './atomic-file.ts';
export * from './proc.ts';
export * from './pidfile.ts';
export * from './logger.ts';
export * from './config-check.ts';
export * from './build-info.ts';
