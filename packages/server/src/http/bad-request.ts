import { AspireError } from '@aspire/protocol';

/**
 * A request refused at the edge after the route schema passed (a value the schema cannot
 * express, e.g. a paging number out of range). Thrown from a handler or hook; the envelope's
 * error handler answers it 400 BAD_REQUEST with this message as the cause.
 */
export class BadRequestError extends AspireError<'EBADREQUEST'> {
  readonly statusCode = 400;
  constructor(message: string) {
    super('EBADREQUEST', message);
  }
}
