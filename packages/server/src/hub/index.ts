export * from './command-hub.ts';
export * from './hub-options.ts';
export * from './polaris-routes.ts';
export * from './hub-main.ts';
