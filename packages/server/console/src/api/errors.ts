/** What can go wrong with a call to the operator REST API, as values the UI can switch on. */
import { AspireError } from '@aspire/protocol/aspire-error';

/** The server answered with an error envelope `{status, message, cause}`; `code` is its `status`. */
export class ApiError extends AspireError<number> {
  constructor(
    readonly http: number,
    readonly status: number,
    message: string,
    readonly detail?: string,
  ) {
    super(status, detail ? `${message}: ${detail}` : message);
    this.name = 'ApiError';
  }
}

/** The server rejected the operator token (HTTP 401). */
export class UnauthorizedError extends ApiError {
  constructor(status: number, message: string, detail?: string) {
    super(401, status, message, detail);
    this.name = 'UnauthorizedError';
  }
}

/** The server could not be reached at all (fetch itself failed): the banner case. */
export class NetworkError extends AspireError<'ENETWORK'> {
  constructor(cause: unknown) {
    super('ENETWORK', `cannot reach the Aspire server (${cause instanceof Error ? cause.message : String(cause)})`);
    this.name = 'NetworkError';
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
