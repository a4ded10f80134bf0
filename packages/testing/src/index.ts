export * from './manual-clock.ts';
export * from './child.ts';
export * from './binaries.ts';
export * from './boot-agent.ts';
export * from './tls-certs.ts';
export * from './aspire-server.ts';
export * from './basic-agent.ts';
export * from './host-identity.ts';
