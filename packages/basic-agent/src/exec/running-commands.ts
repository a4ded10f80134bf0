/**
 * The sync.bash requests running (or waiting for a slot) on this agent, by frame id, so a
 * `cancel` frame from the server can stop one (docs/basic-agent.md "Cancelling what runs").
 * Cancelling aborts the request's signal with a CancelledByServer reason: runCommand then kills
 * the process group exactly as on a timeout, and the reply says EXEC_CANCELLED.
 */

/** The abort reason of a cancel frame: what tells a cancel apart from the agent's own shutdown. */
export class CancelledByServer extends Error {
  constructor(what: string) {
    super(`cancelled by the server: ${what}`);
    this.name = 'CancelledByServer';
  }
}

/** True when the signal was aborted by a cancel frame (not by the agent stopping). */
export function cancelledByServer(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && signal.reason instanceof CancelledByServer;
}

export interface TrackedRequest {
  /** Aborts on the cancel of this id or on the parent signal (the agent stopping). */
  readonly signal: AbortSignal;
  /** Forget the id (the request has answered). */
  release(): void;
}

export class RunningCommands {
  private readonly byId = new Map<string, AbortController>();

  get size(): number {
    return this.byId.size;
  }

  /** Track one request until release(). Ids are the hub's, unique per server process; a repeat shares the first one's cancel. */
  track(id: string, parent?: AbortSignal): TrackedRequest {
    let ac = this.byId.get(id);
    if (!ac) {
      ac = new AbortController();
      this.byId.set(id, ac);
    }
    const own = ac;
    const signal = parent ? AbortSignal.any([parent, own.signal]) : own.signal;
    return {
      signal,
      release: () => {
        if (this.byId.get(id) === own) this.byId.delete(id);
      },
    };
  }

  /** Cancel the request with this id; false when none is running. */
  cancel(id: string): boolean {
    const ac = this.byId.get(id);
    if (!ac || ac.signal.aborted) return false;
    ac.abort(new CancelledByServer(`request ${id}`));
    return true;
  }
}
