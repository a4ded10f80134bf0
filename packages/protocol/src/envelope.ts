import { ApiHttpStatus, ApiStatus, ApiStatusMessage, type ApiStatusName } from './error-codes.ts';

/** The REST envelope of design.md §5: every answer, errors included, has these three fields. */
export interface Envelope {
  status: number;
  message: string;
  cause?: string;
  [extra: string]: unknown;
}

export function ok(extra: Record<string, unknown> = {}): Envelope {
  return { status: ApiStatus.OK, message: 'success', ...extra };
}

export function fail(name: ApiStatusName, cause?: string): { http: number; body: Envelope } {
  const body: Envelope = { status: ApiStatus[name], message: ApiStatusMessage[name] };
  if (cause !== undefined) body.cause = cause;
  return { http: ApiHttpStatus[name], body };
}
