/**
 * The audit log (docs/security.md "The audit log"). Every state-changing operator request, every
 * request that sends something to hosts, and every refusal (401/403) gets a `result` row with its
 * answer, written in onSend (before the client sees the answer). A request that sends commands
 * also gets a `dispatch` row written before anything goes out (auditDispatch). Rows are only
 * appended; each is logged as one JSON line by the logger child {component: 'audit'}.
 *
 * A row that cannot be stored (a full disk): a `result` row never replaces the route's answer
 * (it is logged, marked not stored, and "the disk is full" is said once until space returns);
 * a `dispatch` row fails closed: the request is answered with the error and nothing is sent.
 *
 * What a row holds comes from the route (noteAudit): targets, selector, command, run-as user,
 * an outcome summary. Never bodies, tokens, parameters or command output.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { DiskFullWatch, type Clock } from '@aspire/agent-core';
import { operatorOf } from './operator.ts';
import type { AuditEntry, Store } from '../store/store.ts';
import { isStorageFull } from '../store/storage-full.ts';

export interface AuditNote {
  targets?: number;
  selector?: string;
  command?: string;
  runAs?: string;
  /** Outcome beyond the status code: counts, ids. */
  outcome?: string;
  /** The request sends something to hosts (audited even as a GET). */
  sendsCommand?: boolean;
  /** A sensitive read (the token list): audited even as a GET. */
  audited?: boolean;
}

interface RequestAudit {
  id: string;
  note: AuditNote;
  writer: AuditWriter;
  /** Token name known even when the request is refused after the lookup. */
  token?: string;
}

const audits = new WeakMap<FastifyRequest, RequestAudit>();
const MAX_FIELD = 2000;
const MAX_SELECTOR_HOSTS = 100;

function clip(s: string | undefined): string | null {
  if (s === undefined) return null;
  return s.length > MAX_FIELD ? `${s.slice(0, MAX_FIELD)}...` : s;
}

/** `hosts=a,b,...` (the first 100 named, then the count) for the audit selector column. */
export function hostsSelector(hosts: readonly string[]): string {
  const shown = hosts.slice(0, MAX_SELECTOR_HOSTS).join(',');
  return hosts.length > MAX_SELECTOR_HOSTS ? `hosts=${shown},...(${hosts.length})` : `hosts=${shown}`;
}

export function noteAudit(request: FastifyRequest, note: AuditNote): void {
  const a = audits.get(request);
  if (a) a.note = { ...a.note, ...note };
}

/** The token name for the audit row of a request refused after its token was found. */
export function noteAuditToken(request: FastifyRequest, token: string): void {
  const a = audits.get(request);
  if (a) a.token = token;
}

class AuditWriter {
  private readonly log: Logger;
  private readonly disk = new DiskFullWatch(isStorageFull);
  constructor(
    private readonly store: Pick<Store, 'appendAudit'>,
    private readonly clock: Clock,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'audit' });
  }

  async write(
    request: FastifyRequest,
    a: RequestAudit,
    phase: AuditEntry['phase'],
    code: number | null,
    outcome: string | undefined,
  ): Promise<void> {
    const n = a.note;
    const entry: AuditEntry = {
      at: this.clock.now(),
      phase,
      request: a.id,
      token: operatorOf(request)?.name ?? a.token ?? null,
      source: request.ip,
      method: request.method,
      route: request.routeOptions.url ?? request.url.split('?')[0]!,
      targets: n.targets ?? null,
      selector: clip(n.selector),
      command: clip(n.command),
      run_as: n.runAs ?? null,
      code,
      outcome: clip(outcome),
    };
    // `tokenName`: the logger redacts every key called `token` (it would be a secret).
    const { token, ...rest } = entry;
    const title = `audit ${phase} ${entry.method} ${entry.route}${code === null ? '' : ` ${code}`}`;
    let id: number;
    try {
      id = await this.store.appendAudit(entry);
    } catch (err) {
      if (phase === 'dispatch') {
        // Fail closed: nothing goes out unless its dispatch row is stored (the route answers
        // 503 on a full disk, 500 otherwise, through the error handler).
        this.noteFailure(err);
        throw err;
      }
      // The route's answer stands: the row goes to the log only, marked not stored.
      this.noteFailure(err);
      this.log.info({ audit: { id: null, stored: false, tokenName: token, ...rest } }, `${title} (not stored)`);
      return;
    }
    if (this.disk.succeeded()) this.log.warn('audit rows are stored again: space returned');
    this.log.info({ audit: { id, tokenName: token, ...rest } }, title);
  }

  /** Say once when audit rows stop fitting on the disk; any other failure every time. */
  private noteFailure(err: unknown): void {
    if (isStorageFull(err)) {
      if (this.disk.failed(err, this.clock.now())) {
        this.log.error(
          'audit rows cannot be stored: the disk is full (result rows are logged only; commands are refused until space returns)',
        );
      }
      return;
    }
    this.log.error({ err }, 'audit row could not be stored');
  }
}

/** Write the `dispatch` row now: call after the scope check, before anything is sent to hosts. */
export async function auditDispatch(request: FastifyRequest): Promise<void> {
  const a = audits.get(request);
  if (a) await a.writer.write(request, a, 'dispatch', null, undefined);
}

function causeOf(payload: unknown): string | undefined {
  if (typeof payload !== 'string') return undefined;
  try {
    const c = (JSON.parse(payload) as { cause?: unknown }).cause;
    return typeof c === 'string' ? c : undefined;
  } catch {
    return undefined;
  }
}

function outcomeOf(reply: FastifyReply, note: AuditNote, payload: unknown): string {
  const code = reply.statusCode;
  // Refusal causes are the server's own words (what was outside the scope); other error causes
  // may echo request input, so only the status is kept.
  if (code === 401 || code === 403) return `refused: ${causeOf(payload) ?? code}`;
  if (code >= 400) return `failed: ${code}`;
  return note.outcome ?? 'ok';
}

/** Hooks of the operator scope: every request gets an audit record; onSend writes its result row. */
export function installAudit(
  api: FastifyInstance,
  deps: { store: Pick<Store, 'appendAudit'>; clock: Clock; logger: Logger },
): void {
  const writer = new AuditWriter(deps.store, deps.clock, deps.logger);
  api.addHook('onRequest', async (request) => {
    audits.set(request, { id: randomUUID(), note: {}, writer });
  });
  api.addHook('onSend', async (request, reply, payload) => {
    const a = audits.get(request);
    if (!a) return payload;
    const code = reply.statusCode;
    const changes = request.method !== 'GET' && request.method !== 'HEAD';
    if (changes || code === 401 || code === 403 || a.note.sendsCommand || a.note.audited) {
      await writer.write(request, a, 'result', code, outcomeOf(reply, a.note, payload));
    }
    return payload;
  });
}
