/**
 * A task that names AgentSNs the server does not know is refused whole (issue 13 B.1) unless
 * the operator allows them. The store finds them in the same set-based insert that splits the
 * task (one join for 100,000 AgentSNs, not two) and undoes the transaction by throwing this;
 * createTask turns it back into its answer, so it never leaves the store.
 */
export class UnknownHostsRefusal extends Error {
  constructor(readonly unknown: string[]) {
    super(`unknown AgentSN (${unknown.length})`);
  }
}

/** Run a store transaction that may refuse unknown hosts; the refusal comes back as a value. */
export async function refusingUnknown<T extends { id: number; results: unknown[] }>(
  run: () => Promise<T>,
): Promise<T | { id: 0; results: []; unknown: string[] }> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof UnknownHostsRefusal) return { id: 0, results: [], unknown: err.unknown };
    throw err;
  }
}
