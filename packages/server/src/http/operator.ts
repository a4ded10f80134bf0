/**
 * Who made an operator request: the token's name, role and scope, set by the auth hook in app.ts
 * (http/operator-auth.ts) and read by the routes that check scope (tasks, Polaris).
 */
import type { FastifyRequest } from 'fastify';
import type { OperatorScope, Role } from './operator-scope.ts';

/** What a host is, as far as a token's host selector cares. */
export interface HostFacts {
  agentsn: string;
  hostname: string;
  /** Bound and reported tags, `k=v`. */
  tags: string[];
  region: number;
  regionName: string | null;
}

/** Looks up the hosts a Polaris `hosts[]` entry or a task AgentSN names (empty when unknown). */
export type HostLookup = (name: string, hint?: { agentsn?: string; hostname?: string }) => Promise<HostFacts[]>;

export interface Operator {
  name: string;
  role: Role;
  scope: OperatorScope;
  /** Host lookup over the server's store, for scope checks. */
  hosts: HostLookup;
}

const operators = new WeakMap<FastifyRequest, Operator>();

export function setOperator(request: FastifyRequest, op: Operator): void {
  operators.set(request, op);
}

export function operatorOf(request: FastifyRequest): Operator | undefined {
  return operators.get(request);
}
