import type { InputIssue } from '../validation/zod-issues';

/** The one JSON error shape of the HTTP API (4xx and 5xx alike). */
export interface ApiErrorBody {
  error: {
    status: number;
    code: string;
    message: string;
    issues?: InputIssue[];
  };
}

export function apiError(status: number, code: string, message: string, issues?: InputIssue[]): ApiErrorBody {
  return { error: { status, code, message, ...(issues && issues.length ? { issues } : {}) } };
}

const CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable',
  429: 'too_many_requests',
  503: 'unavailable',
};

export function codeForStatus(status: number): string {
  return CODES[status] ?? (status >= 500 ? 'internal_error' : 'error');
}
