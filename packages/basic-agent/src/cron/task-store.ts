import { readJsonFile, writeJsonAtomic } from '@aspire/agent-core';

export interface StoredTask {
  name: string;
  line: string;
}

/**
 * Tasks the server added (task.add), kept in the state dir so a restart keeps them. Written
 * atomically (temp file + rename); writes are serialised so the file always holds the latest set.
 */
export class TaskStore {
  private chain: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  load(): { tasks: StoredTask[]; problem?: string } {
    const r = readJsonFile<{ tasks?: unknown }>(this.path);
    if (r.kind === 'missing') return { tasks: [] };
    if (r.kind === 'corrupt') return { tasks: [], problem: `${this.path}: ${r.error}` };
    const list = Array.isArray(r.value?.tasks) ? (r.value.tasks as unknown[]) : [];
    const tasks = list.filter(
      (t): t is StoredTask =>
        typeof t === 'object' &&
        t !== null &&
        typeof (t as StoredTask).name === 'string' &&
        typeof (t as StoredTask).line === 'string',
    );
    return {
      tasks,
      ...(tasks.length !== list.length
        ? { problem: `${this.path}: ${list.length - tasks.length} malformed entries dropped` }
        : {}),
    };
  }

  save(tasks: StoredTask[]): Promise<void> {
    const snapshot = tasks.map((t) => ({ name: t.name, line: t.line }));
    this.chain = this.chain.catch(() => {}).then(() => writeJsonAtomic(this.path, { version: 1, tasks: snapshot }));
    return this.chain;
  }
}
