/** The operators part of the store: tokens (hashes only) and the audit log. */
import type { Page, Paging } from './common.ts';

/** An operator token as the auth hook sees it (scope is the stored JSON, checked by the caller). */
export interface TokenGrant {
  name: string;
  role: string;
  scope: string;
}

export interface TokenRow {
  id: number;
  name: string;
  role: string;
  scope: string;
  gmt_create: number;
  last_used: number | null;
}

/** One audit row (docs/security.md "The audit log"); never a secret, never command output. */
export interface AuditEntry {
  /** unix ms */
  at: number;
  /** `dispatch`: written before a command goes to hosts; `result`: the answer (or refusal). */
  phase: 'dispatch' | 'result';
  /** Correlates the dispatch and result rows of one request. */
  request: string;
  token: string | null;
  source: string;
  method: string;
  route: string;
  targets: number | null;
  /** How the hosts were chosen: `hosts=a,b` or `tags=k=v`. */
  selector: string | null;
  command: string | null;
  run_as: string | null;
  /** HTTP status of the answer (result rows). */
  code: number | null;
  outcome: string | null;
}

export interface AuditRow extends AuditEntry {
  id: number;
}

export interface AuditFilter {
  token?: string;
  route?: string;
  /** unix ms, inclusive */
  since?: number;
  until?: number;
  /** Rows whose selector names this host. */
  agentsn?: string;
}

export interface OperatorStore {
  /** Store a token (its hash only); role admin and no scope limits unless given. */
  createToken(name: string, hash: string, now: number, grant?: { role: string; scope: string }): Promise<number>;
  listTokens(): Promise<TokenRow[]>;
  /** Delete every token with this name; returns how many. */
  deleteTokens(name: string): Promise<number>;
  /** The token with this hash (and mark it used), or undefined. Read per request: no cache. */
  tokenGrant(hash: string, now: number): Promise<TokenGrant | undefined>;

  /** Append one audit row (the table has no update and no delete but the retention sweep). */
  appendAudit(e: AuditEntry): Promise<number>;
  listAudit(filter: AuditFilter, paging: Paging): Promise<Page<AuditRow>>;
  /** Delete audit rows older than `before` (ms); returns how many. */
  pruneAudit(before: number): Promise<number>;
}
