import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ZodValidationException } from 'nestjs-zod';
import { z } from 'zod';
import { apiError, codeForStatus, type ApiErrorBody } from '../http/api-error';
import { AppException } from '../http/app-exception';
import { zodIssues } from '../validation/zod-issues';

/** Errors raised by body-parser before a route runs (too large, bad JSON, bad encoding). */
interface BodyParserError {
  type?: string;
  status?: number;
  statusCode?: number;
  message?: string;
}

/**
 * Every error leaves as `{ error: { status, code, message, issues? } }`. A client's mistake is a 4xx
 * naming each problem; anything unexpected is a 500 with a generic message, and the details go to the log.
 */
export function toApiError(
  exception: unknown,
  where: string,
): { status: number; body: ApiErrorBody; unexpected: boolean; headers?: Readonly<Record<string, string>> } {
  if (exception instanceof ZodValidationException) {
    const zerr = exception.getZodError();
    const issues = zerr instanceof z.ZodError ? zodIssues(zerr, where) : [];
    return {
      status: 400,
      body: apiError(400, 'validation_failed', 'The request is not valid.', issues),
      unexpected: false,
    };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const resp = exception.getResponse();
    if (exception instanceof AppException) {
      const { headers, expected } = exception.answer;
      return { status, body: resp as ApiErrorBody, unexpected: status >= 500 && !expected, headers };
    }
    if (typeof resp === 'object' && resp !== null && 'error' in resp && typeof resp.error === 'object') {
      return { status, body: resp as ApiErrorBody, unexpected: status >= 500 };
    }
    const message =
      typeof resp === 'string'
        ? resp
        : typeof resp === 'object' && resp !== null && 'message' in resp
          ? String(Array.isArray(resp.message) ? resp.message.join('; ') : resp.message)
          : exception.message;
    return { status, body: apiError(status, codeForStatus(status), message), unexpected: status >= 500 };
  }
  const bp = exception as BodyParserError;
  // Body parsers tag their errors with a type, except the ones they pass through with a 4xx status (a corrupt
  // gzip body is zlib's error with status 400): before any route, a 4xx is the client's.
  const fromBodyParser =
    typeof bp?.type === 'string' || (where === 'body' && typeof (bp?.status ?? bp?.statusCode) === 'number');
  if (bp && fromBodyParser) {
    const status = bp.status ?? bp.statusCode ?? 400;
    if (bp.type === 'entity.too.large') {
      return {
        status: 413,
        body: apiError(413, 'payload_too_large', 'The request body is larger than allowed.'),
        unexpected: false,
      };
    }
    if (bp.type === 'entity.parse.failed') {
      return {
        status: 400,
        body: apiError(400, 'malformed_json', `The body is not valid JSON: ${bp.message ?? ''}`.trim()),
        unexpected: false,
      };
    }
    if (status >= 400 && status < 500) {
      return {
        status,
        body: apiError(status, codeForStatus(status), bp.message ?? 'Bad request body.'),
        unexpected: false,
      };
    }
  }
  return { status: 500, body: apiError(500, 'internal_error', 'Internal server error.'), unexpected: true };
}

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const { status, body, unexpected, headers } = toApiError(exception, 'request');
    if (unexpected) {
      // The request log's id (at info and below) ties this line to the request's own.
      const reqId = (req as { id?: unknown }).id;
      this.logger.error(
        { err: exception, method: req.method, url: req.url, ...(reqId === undefined ? {} : { reqId }) },
        'request failed',
      );
    }
    if (res.headersSent) return;
    if (headers) res.set(headers);
    res.status(status).json(body);
  }
}
