/** The operators part of the store: tokens (hashes only) and the audit log. */
import { Type, type Static } from '@sinclair/typebox';
import type { Page, Paging } from './common.ts';
import { Num, NullableNum, NullableStr, NullableTime, Row, Str, Time } from './row-schema.ts';

/** An operator token as the auth hook sees it (scope is the stored JSON, checked by the caller). */
export interface TokenGrant {
  name: string;
  role: string;
  scope: string;
}

export const TokenRowSchema = Row(
  {
    id: Num(),
    name: Str(),
    role: Str('viewer | operator | admin'),
    scope: Str('the scope as stored (JSON)'),
    gmt_create: Time('created'),
    last_used: NullableTime('last request with this token (null: never used)'),
  },
  'one operator token: never its secret or its hash',
);
export type TokenRow = Static<typeof TokenRowSchema>;

/** One audit row (docs/security.md "The audit log"); never a secret, never command output. */
export const AuditRowSchema = Row(
  {
    id: Num(),
    at: Time('when'),
    phase: Type.Unsafe<'dispatch' | 'result'>(
      Type.String({
        enum: ['dispatch', 'result'],
        description: 'dispatch: written before a command went to hosts; result: the answer or refusal',
      }),
    ),
    request: Str('the same for the dispatch and result rows of one request'),
    token: NullableStr('token name (null: no or unknown token)'),
    source: Str('source address'),
    method: Str(),
    route: Str(),
    targets: NullableNum('hosts asked for'),
    selector: NullableStr('hosts=a,b or tags=k=v'),
    command: NullableStr('command, task action or method'),
    run_as: NullableStr('run-as user'),
    code: NullableNum('HTTP status of the answer (result rows)'),
    outcome: NullableStr('ok, counts, failed: CODE, or refused: why'),
  },
  'one audit row: never a secret, never command output',
);
export type AuditRow = Static<typeof AuditRowSchema>;
/** An audit row to append (the store gives it its id). */
export type AuditEntry = Omit<AuditRow, 'id'>;

export interface AuditFilter {
  token?: string | undefined;
  route?: string | undefined;
  /** unix ms, inclusive */
  since?: number | undefined;
  until?: number | undefined;
  /** Rows whose selector names this host. */
  agentsn?: string | undefined;
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
