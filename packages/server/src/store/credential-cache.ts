/**
 * Host credential hashes kept in memory by a store that is the only writer of its hosts table
 * (SQLite: one process holds the database), so a status push is authenticated without a read.
 * The store changes it in the same synchronous step as the row: every write of credential_hash
 * (a proven re-registration, an operator reset) forgets the entry first, so the next push reads
 * the new value and a rotated or reset credential is refused on that push. A store shared by
 * several processes (PostgreSQL, a cluster) must not use it: another node's reset would not reach it.
 */

/** Entries at most: ~150 bytes each, so a 100,000-host fleet costs ~15 MB; the oldest go first. */
const MAX_ENTRIES = 100_000;

export class CredentialCache {
  private readonly hashes = new Map<string, string>();

  constructor(private readonly max = MAX_ENTRIES) {}

  get(agentsn: string): string | undefined {
    return this.hashes.get(agentsn);
  }

  /** Remember the hash just read from (or committed to) the database. */
  set(agentsn: string, hash: string): void {
    if (!this.hashes.has(agentsn) && this.hashes.size >= this.max) {
      // Map iteration is insertion order: the first key is the oldest entry.
      const oldest = this.hashes.keys().next();
      if (!oldest.done) this.hashes.delete(oldest.value);
    }
    this.hashes.set(agentsn, hash);
  }

  forget(agentsn: string): void {
    this.hashes.delete(agentsn);
  }

  get size(): number {
    return this.hashes.size;
  }
}
