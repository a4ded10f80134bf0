import { ErrorCode, errorMessage } from '@aspire/protocol/error-codes';
import { AspireError } from '@aspire/protocol/aspire-error';

/** A getinfo collector: parses its own args, returns plain JSON data (its --help line is in registry.ts). */
export interface Collector {
  /** The part after `getinfo.`. */
  name: string;
  run(args: string[]): Promise<unknown>;
}

/** A collector failure with its unified code (COLLECTOR_*). */
export class CollectorError extends AspireError<number> {
  constructor(code: number, detail?: string) {
    super(code, detail ? `${errorMessage(code)}: ${detail}` : errorMessage(code));
  }
}

export function badArgument(detail: string): CollectorError {
  return new CollectorError(ErrorCode.COLLECTOR_BAD_ARGUMENT, detail);
}

export function noArgs(name: string, args: string[]): void {
  if (args.length > 0) throw badArgument(`getinfo.${name} takes no arguments, got ${JSON.stringify(args.join(' '))}`);
}

/**
 * Split an args string the way a shell would for simple cases (`-U root`, `-U "a b"`), without
 * running a shell: the string comes from the network.
 */
export function splitArgs(text: string | undefined): string[] {
  if (!text) return [];
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (const m of text.matchAll(re)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]!));
  return out;
}
