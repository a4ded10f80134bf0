// A subpath of its own (`@aspire/agent-core/cron`): only the programs that parse cron lines
// (BasicAgent, server) pull cron-parser into their bundle, the BootAgent does not.
export * from './cron-field.ts';
export * from './schedule.ts';
export * from './task-line.ts';
