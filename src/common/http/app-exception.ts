import { HttpException } from '@nestjs/common';
import { apiError } from './api-error';
import type { InputIssue } from '../validation/zod-issues';

/** How an `AppException` is answered beyond its body. */
export interface AppExceptionOptions {
  /** Response headers (e.g. Retry-After). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * An expected 5xx (the service shedding load, say): answered, counted by its caller, not logged as a failed
   * request. Every other 5xx is logged with its request.
   */
  readonly expected?: boolean;
}

/** An HTTP error with a machine-readable code, rendered in the API's error shape. */
export class AppException extends HttpException {
  constructor(
    status: number,
    code: string,
    message: string,
    issues?: InputIssue[],
    readonly answer: AppExceptionOptions = {},
  ) {
    super(apiError(status, code, message, issues), status);
  }
}
