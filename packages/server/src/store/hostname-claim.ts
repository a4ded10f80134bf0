/**
 * A status push that renames its host to a hostname another non-deleted host holds is not
 * applied (the old hostname is kept): hostnames are how Polaris and the command hub's init
 * check address hosts, so copying one must not take another host's channel over
 * (docs/security.md "Host identity"). Both stores record the same `refused` server event.
 */
import type { StatusInput } from './store.ts';

export function hostnameRefusal(
  input: Pick<StatusInput, 'agentsn' | 'hostname'>,
  kept: string,
  holder: string,
): { message: string; data: Record<string, unknown> } {
  return {
    message: `status push asked to rename host ${input.agentsn} to hostname ${JSON.stringify(input.hostname)}, which host ${holder} holds: kept ${JSON.stringify(kept)}`,
    data: { reason: 'hostname held by another host', asked: input.hostname, kept, holder },
  };
}
