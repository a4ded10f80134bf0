export * from './error-codes.ts';
export * from './status-words.ts';
export * from './paths.ts';
export * from './validate.ts';
export * from './boot-wire.ts';
export * from './channel-wire.ts';
export * from './envelope.ts';
export * from './frame-decoder.ts';
