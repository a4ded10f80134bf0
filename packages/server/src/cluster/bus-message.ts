/**
 * What nodes send each other over LISTEN/NOTIFY (docs/scale.md), checked once here into typed
 * values (another node's payload is still input), and how messages to one node are packed into
 * as few notifications as fit PostgreSQL's payload limit.
 */
import { createHash } from 'node:crypto';
import { replyFrame, type ReplyFrame } from '@aspire/protocol';

/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; keep a margin for the envelope. */
export const NOTIFY_MAX_BYTES = 7900;
/** Messages in one batch at most (a batch fits NOTIFY_MAX_BYTES anyway; a bound on what is parsed). */
const BATCH_MAX = 2000;

export type ForwardedFrame = Record<string, unknown> & { id: string; method: string };

/**
 * One request for the hosts a node holds (a fan-out sends one per node), one reply per host, and
 * the hosts a node has just redirected to the receiver (it accepts them when they arrive).
 */
export type BusMessage =
  | { t: 'req'; rid: string; from: string; hosts: string[]; frame: ForwardedFrame; deadlineMs: number }
  | { t: 'rep'; rid: string; host: string; reply: ReplyFrame }
  | { t: 'exp'; ids: string[] };

export function channelOf(nodeId: string): string {
  return `aspire_node_${createHash('sha256').update(nodeId).digest('hex').slice(0, 24)}`;
}

export function applicationNameOf(nodeId: string): string {
  return `aspire-node:${nodeId}`;
}

const strings = (v: unknown, max: number): v is string[] =>
  Array.isArray(v) && v.length > 0 && v.length <= max && v.every((h) => typeof h === 'string' && h.length <= 300);

function parseValue(v: unknown): BusMessage | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const m = v as Record<string, unknown>;
  if (m.t === 'exp') return strings(m.ids, BATCH_MAX) ? { t: 'exp', ids: m.ids } : undefined;
  if (typeof m.rid !== 'string' || m.rid.length > 100) return undefined;
  if (m.t === 'req') {
    const f = m.frame as Record<string, unknown> | undefined;
    if (
      typeof m.from !== 'string' ||
      typeof m.deadlineMs !== 'number' ||
      !Number.isFinite(m.deadlineMs) ||
      m.deadlineMs <= 0
    )
      return undefined;
    if (!Array.isArray(m.hosts) || m.hosts.length === 0 || !m.hosts.every((h) => typeof h === 'string'))
      return undefined;
    if (!f || typeof f !== 'object' || typeof f.id !== 'string' || typeof f.method !== 'string') return undefined;
    return {
      t: 'req',
      rid: m.rid,
      from: m.from,
      hosts: m.hosts as string[],
      frame: f as ForwardedFrame,
      deadlineMs: m.deadlineMs,
    };
  }
  if (m.t === 'rep') {
    if (typeof m.host !== 'string') return undefined;
    const r = replyFrame.validate(m.reply);
    return r.ok ? { t: 'rep', rid: m.rid, host: m.host, reply: r.value } : undefined;
  }
  return undefined;
}

/** Parse and check one message. */
export function parseBusMessage(text: string): BusMessage | undefined {
  try {
    return parseValue(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/**
 * One notification's messages: a single message or a batch `{"t": "batch", "m": [...]}`; each
 * entry is checked on its own (a malformed one is counted and dropped, the others stand).
 */
export function parseBusPayload(text: string): { messages: BusMessage[]; dropped: number } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { messages: [], dropped: 1 };
  }
  const m = v as { t?: unknown; m?: unknown } | null;
  if (m?.t !== 'batch') {
    const one = parseValue(v);
    return one ? { messages: [one], dropped: 0 } : { messages: [], dropped: 1 };
  }
  if (!Array.isArray(m.m) || m.m.length > BATCH_MAX) return { messages: [], dropped: 1 };
  const messages: BusMessage[] = [];
  for (const e of m.m) {
    const one = parseValue(e);
    if (one) messages.push(one);
  }
  return { messages, dropped: m.m.length - messages.length };
}

const OPEN = '{"t":"batch","m":[';
const CLOSE = ']}';

/**
 * Pack serialized messages for one node into notifications: a message alone when it is alone,
 * else batches of as many as fit `max` bytes; a message too large for any notification is left
 * in `large` (it travels by a payload row).
 */
export function packMessages(
  texts: readonly string[],
  max = NOTIFY_MAX_BYTES,
): { payloads: string[]; large: string[] } {
  const payloads: string[] = [];
  const large: string[] = [];
  let group: string[] = [];
  let bytes = 0;
  const close = (): void => {
    if (group.length === 1) payloads.push(group[0]!);
    else if (group.length > 1) payloads.push(`${OPEN}${group.join(',')}${CLOSE}`);
    group = [];
    bytes = 0;
  };
  for (const t of texts) {
    const n = Buffer.byteLength(t);
    if (n > max) {
      large.push(t);
      continue;
    }
    // The batch envelope, the commas, and this message must fit.
    if (group.length >= BATCH_MAX || OPEN.length + CLOSE.length + bytes + group.length + n > max) close();
    group.push(t);
    bytes += n;
  }
  close();
  return { payloads, large };
}
