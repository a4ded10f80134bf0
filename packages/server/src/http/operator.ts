import type { FastifyRequest } from 'fastify';

/** Which operator token (by its name) made a request; set by the operator auth hook in app.ts. */
const operators = new WeakMap<FastifyRequest, string>();

export function setOperator(request: FastifyRequest, name: string): void {
  operators.set(request, name);
}

export function operatorOf(request: FastifyRequest): string | undefined {
  return operators.get(request);
}
