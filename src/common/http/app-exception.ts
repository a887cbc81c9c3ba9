import { HttpException } from '@nestjs/common';
import { apiError } from './api-error';
import type { InputIssue } from '../validation/zod-issues';

/** An HTTP error with a machine-readable code, rendered in the API's error shape. */
export class AppException extends HttpException {
  constructor(status: number, code: string, message: string, issues?: InputIssue[]) {
    super(apiError(status, code, message, issues), status);
  }
}
