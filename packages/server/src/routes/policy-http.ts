/** What the tree and policy routes share: params, refusals with their reason, row output. */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../http/envelope.ts';
import { ROW_TIME_FIELDS, withIsoTimes } from '../http/iso-time.ts';
import { PolicyRefusal } from '../policy/refusal.ts';
import type { TreeNodeRow } from '../policy/tree-rules.ts';
import type { PolicyRow } from '../store/policy-store.ts';

export const Id = Type.Object({ id: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });
export type IdParams = Static<typeof Id>;
export const Sn = Type.String({ minLength: 1, maxLength: 64 });
export const SnParams = Type.Object({ agentsn: Sn }, { additionalProperties: false });

export function refusal(reply: FastifyReply, err: unknown): FastifyReply {
  if (!(err instanceof PolicyRefusal)) throw err;
  return sendError(reply, err.status, err.message, { reason: err.reason });
}

/** Run a handler; a PolicyRefusal becomes its envelope with `reason`. */
export const guarded =
  <R extends FastifyRequest>(fn: (req: R, reply: FastifyReply) => Promise<FastifyReply>) =>
  async (req: R, reply: FastifyReply) => {
    try {
      return await fn(req, reply);
    } catch (err) {
      return refusal(reply, err);
    }
  };

export const nodeOut = (n: TreeNodeRow) => withIsoTimes(n, ROW_TIME_FIELDS);
export const policyOut = (p: PolicyRow | undefined) => (p ? withIsoTimes(p, ROW_TIME_FIELDS) : null);
