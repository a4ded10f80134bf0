// Pure (no DOM): unit-tested under Node in packages/server/test/console-lib.test.ts.
/** The Run page's rows and the one-line summary of a finished run. */

export interface RunReply {
  /** `success`: the command ran and retcode is its exit status; `failed`: retcode is the agent's error code. */
  resp: 'success' | 'failed';
  retcode: number;
  message: string;
  data?: unknown;
  truncated?: boolean;
}

export interface RunRow {
  host: string;
  /** Still waiting for this host's answer. */
  pending: boolean;
  reply?: RunReply;
  /** The request itself failed (refused, network): no reply. */
  error?: string;
}

/** The command ran and exited 0. */
export function succeeded(r: RunRow): boolean {
  return !r.pending && !r.error && r.reply?.resp === 'success' && r.reply.retcode === 0;
}

/** "3 hosts: 2 succeeded, 1 failed" (exit 0 is success; anything else, or no answer, a failure). */
export function runSummary(rows: readonly RunRow[]): string {
  const ok = rows.filter(succeeded).length;
  const failed = rows.filter((r) => !r.pending).length - ok;
  return `${rows.length} host${rows.length === 1 ? '' : 's'}: ${ok} succeeded, ${failed} failed`;
}
