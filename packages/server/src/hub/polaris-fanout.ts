/**
 * One Polaris request to the agents: the frame each host gets (only the fields of its method,
 * the operator's signature carried as is) and the fan-out to every named host, here or, in a
 * cluster, through the node that holds it.
 */
import {
  ErrorCode,
  canonicalJson,
  checkSyncBashTimeout,
  errorMessage,
  failedReply,
  type PolarisHostReply,
  type PolarisRequest,
  type ReplyFrame,
} from '@aspire/protocol';
import type { AgentConnection } from './agent-connection.ts';
import type { CommandHub } from './command-hub.ts';
import type { BatchFrameSigner } from './frame-sign-worker.ts';
import { SharedDeadline } from './shared-deadline.ts';
import { ambiguousFailure, resolveHosts, type ResolvedHosts } from './host-resolution.ts';

/**
 * From this many channels on this node a fan-out signs its frames in batches on the signing
 * worker (frame-sign-worker.ts); below, each is signed as it is sent (a message to the thread
 * would cost more than it saves).
 */
export const BATCH_SIGN_MIN_HOSTS = 64;
/** Frames per batch: the first ones leave after one batch is signed, and the worker gets few messages. */
const SIGN_BATCH = 256;

/** The agent frame for one Polaris request (only the fields of its method go out). */
function agentFrame(
  req: PolarisRequest,
  id: string,
): { frame: Record<string, unknown> & { id: string; method: string }; timeoutS?: number } | { error: string } {
  const method = req.method;
  if (method === 'sync.bash') {
    if (typeof req.cmd !== 'string' || req.cmd.length === 0) return { error: 'sync.bash needs cmd' };
    // The agent applies the same rule; refusing here keeps a bad timeout off every host.
    const timeout = checkSyncBashTimeout(req.timeout);
    if (!timeout.ok) return { error: timeout.error };
    const timeoutS = timeout.seconds;
    const frame: Record<string, unknown> & { id: string; method: string } = {
      id,
      method,
      cmd: req.cmd,
      timeout: timeoutS,
    };
    if (req.user) frame.user = req.user;
    if (req.group) frame.group = req.group;
    withOperatorSignature(req, frame);
    return { frame, timeoutS };
  }
  if (method.startsWith('getinfo.'))
    return { frame: { id, method, ...(req.args !== undefined ? { args: req.args } : {}) } };
  if (method === 'task.add') {
    const r = req as PolarisRequest & { name?: unknown; line?: unknown };
    if (typeof r.name !== 'string' || typeof r.line !== 'string') return { error: 'task.add needs name and line' };
    return { frame: withOperatorSignature(req, { id, method, name: r.name, line: r.line }) };
  }
  if (method === 'task.remove') {
    const r = req as PolarisRequest & { name?: unknown };
    if (typeof r.name !== 'string') return { error: 'task.remove needs name' };
    return { frame: { id, method, name: r.name } };
  }
  return { frame: { id, method } };
}

/**
 * An operator signature (`opsig`, docs/security.md "The host policy file") goes to the agent
 * untouched: the server cannot make one, only carry what the operator signed with their own key.
 */
function withOperatorSignature<F extends Record<string, unknown>>(req: PolarisRequest, frame: F): F {
  const opsig = (req as { opsig?: unknown }).opsig;
  if (opsig !== undefined) (frame as Record<string, unknown>).opsig = opsig;
  return frame;
}

/** Fan one request out to every named host; one answer per host, in the order asked. */
export async function fanOut(
  hub: CommandHub,
  req: PolarisRequest,
  id: string,
  given?: ResolvedHosts,
): Promise<PolarisHostReply[] | { error: string }> {
  const resolved = given ?? resolveHosts(hub, req.hosts);
  const built = agentFrame(req, id);
  if ('error' in built) return built;
  // The agent kills the command at its timeout; the grace covers the kill escalation and the trip back.
  const deadline =
    built.timeoutS !== undefined ? built.timeoutS * 1000 + hub.options.replyGraceMs : hub.options.defaultDeadlineMs;
  // Hosts not connected here: in a cluster the nodes holding them answer (one presence lookup,
  // one message per node; 203 at once for a host held nowhere); on one node, 203.
  const elsewhere = hub.cluster
    ? req.hosts.filter((h) => (resolved.get(h) ?? hub.registry.lookup(h)).kind === 'none')
    : [];
  const routed =
    hub.cluster && elsewhere.length > 0 ? hub.cluster.routeMany(elsewhere, built.frame, deadline) : undefined;
  const lookups = req.hosts.map((h) => resolved.get(h) ?? hub.registry.lookup(h));
  let here = 0;
  for (const f of lookups) if (f.kind === 'found') here++;
  const signer = here >= BATCH_SIGN_MIN_HOSTS ? hub.frameSigner : undefined;
  const opened: Opened[] = [];
  const shared = here > 1 ? new SharedDeadline(hub.clock, deadline) : undefined;
  const replies = lookups.map((found, i): ReplyFrame | Promise<ReplyFrame> => {
    if (found.kind === 'found') {
      if (!signer) return found.conn.request(built.frame, deadline, shared);
      const o = found.conn.open(built.frame, deadline, shared);
      if (o.hubId !== undefined)
        opened.push({ conn: found.conn, hubId: o.hubId, text: '', expires: o.expires, sent: false });
      return o.reply;
    }
    if (found.kind === 'ambiguous') return ambiguousFailure(id, req.hosts[i]!, found.count);
    return routed ? routedReply(routed, req.hosts[i]!, id) : failedReply(id, ErrorCode.NO_SUCH_HOST);
  });
  if (signer) void sendSigned(signer, canonicalFrames(built.frame, signer.kid), opened);
  // One pass over the settled replies, in the order asked (no per-host closure or promise).
  const settled = await Promise.all(replies);
  return settled.map((r, i): PolarisHostReply => {
    const { id: _id, ...rest } = r;
    return { host: req.hosts[i]!, ...rest };
  });
}

async function routedReply(
  routed: NonNullable<ReturnType<NonNullable<CommandHub['cluster']>['routeMany']>>,
  host: string,
  id: string,
): Promise<ReplyFrame> {
  return (await (await routed)?.get(host)) ?? failedReply(id, ErrorCode.NO_SUCH_HOST);
}

/** A request registered on its connection whose frame waits for its signature. */
interface Opened {
  conn: AgentConnection;
  hubId: string;
  /** Canonical JSON of the frame with agentsn, expires and kid: what is signed, and the line sent. */
  text: string;
  expires: number;
  /** Written to its channel. */
  sent: boolean;
}

/**
 * canonicalJson of the signed form of one request's frame for many hosts: `{...frame, id,
 * agentsn, expires, kid}` (as Signer.sign builds it) where only id, agentsn and expires differ
 * between hosts. The rest is made canonical once; each host's text is then a concatenation.
 * Found by making the frame canonical with a marker for each varying member and cutting there;
 * a frame whose own content holds a marker gets canonicalJson for each host instead.
 */
export function canonicalFrames(
  frame: Record<string, unknown>,
  kid: string,
): (id: string, agentsn: string, expires: number) => string {
  const { sig: _sig, ...common } = frame;
  const marks = { agentsn: '\u0000agentsn', expires: '\u0000expires', id: '\u0000id' };
  const text = canonicalJson({ ...common, ...marks, kid });
  // Exactly three cuts: the three top-level members, in sorted order (agentsn, expires, id).
  const parts = text.split(/"agentsn":"\\u0000agentsn"|"expires":"\\u0000expires"|"id":"\\u0000id"/);
  if (parts.length === 4) {
    const [a, b, c, d] = parts as [string, string, string, string];
    return (id, agentsn, expires) =>
      `${a}"agentsn":${JSON.stringify(agentsn)}${b}"expires":${expires}${c}"id":${JSON.stringify(id)}${d}`;
  }
  return (id, agentsn, expires) => canonicalJson({ ...common, id, agentsn, expires, kid });
}

/**
 * Sign and send the opened frames in batches, shared between the signing worker and this thread:
 * the worker is handed every even batch at once and signs them in turn, while this thread signs
 * each odd batch itself, writes it, then writes the worker's next batch when it is back (and,
 * between batches, reads the replies already arriving). Two threads halve the time to the last
 * frame (~50 ms of signatures for 1,000 hosts). Each frame is signed on its own, exactly as
 * Signer.sign would (docs/security.md): the canonical text of the frame with agentsn, expires
 * and kid, prefixed `aspire-frame-v1\n`; the line sent is that same canonical JSON with `sig`
 * added (agents verify the canonical form, not the key order).
 */
async function sendSigned(
  signer: BatchFrameSigner,
  canonical: ReturnType<typeof canonicalFrames>,
  opened: Opened[],
): Promise<void> {
  const batchAt = (from: number) => {
    const batch = opened.slice(from, from + SIGN_BATCH);
    for (const o of batch) o.text = canonical(o.hubId, o.conn.target, Math.floor(o.expires));
    return batch;
  };
  const send = (batch: Opened[], sigs: string[]) => {
    for (let j = 0; j < batch.length; j++) {
      const o = batch[j]!;
      o.conn.sendText(`${o.text.slice(0, -1)},"sig":${JSON.stringify(sigs[j])}}\n`);
      o.text = ''; // sent: let the text go while the other replies are awaited
      o.sent = true;
    }
  };
  const onWorker: Promise<{ batch: Opened[]; sigs: string[] }>[] = [];
  try {
    for (let from = 0; from < opened.length; from += 2 * SIGN_BATCH) {
      const batch = batchAt(from);
      const signed = signer.sign(batch.map((o) => o.text)).then((sigs) => ({ batch, sigs }));
      // Awaited in order below; one not reached (an earlier failure ended the loop) must not
      // become an unhandled rejection.
      signed.catch(() => undefined);
      onWorker.push(signed);
    }
    for (let i = 0, k = 0; k < opened.length; i++, k += 2 * SIGN_BATCH) {
      if (k + SIGN_BATCH < opened.length) {
        const mine = batchAt(k + SIGN_BATCH);
        send(mine, signer.signHere(mine.map((o) => o.text)));
      }
      const theirs = await onWorker[i]!;
      send(theirs.batch, theirs.sigs);
    }
  } catch (err) {
    // Only a frame JSON cannot carry gets here (a validated request never holds one): the
    // requests not sent answer now rather than at their deadline.
    const why = `${errorMessage(ErrorCode.INVALID_PARAMS)}: ${(err as Error).message}`;
    for (const o of opened) if (!o.sent) o.conn.settle(o.hubId, ErrorCode.INVALID_PARAMS, why);
  }
}
