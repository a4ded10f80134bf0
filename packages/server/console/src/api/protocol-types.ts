/**
 * The console's view of @aspire/protocol, for the type checker only (tsconfig `paths` maps the
 * package here). The protocol's index also exports the channel's frame decoder, which is written
 * against Node's Buffer; the console is checked with the DOM library and without Node's types, so
 * that browser code cannot lean on Node globals. Every other protocol file is re-exported as is:
 * the same declarations, not copies. Types only: nothing here reaches the bundle.
 */
export type * from '../../../../protocol/src/error-codes.ts';
export type * from '../../../../protocol/src/status-words.ts';
export type * from '../../../../protocol/src/paths.ts';
export type * from '../../../../protocol/src/validate.ts';
export type * from '../../../../protocol/src/boot-wire.ts';
export type * from '../../../../protocol/src/channel-wire.ts';
export type * from '../../../../protocol/src/envelope.ts';
export type * from '../../../../protocol/src/policy-wire.ts';
