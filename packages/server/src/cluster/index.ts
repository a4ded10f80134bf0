export * from './cluster.ts';
export * from './cluster-config.ts';
export * from './routes.ts';
