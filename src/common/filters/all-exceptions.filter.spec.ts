import type { ArgumentsHost } from '@nestjs/common';
import { AppException } from '../http/app-exception';
import { AllExceptionsFilter } from './all-exceptions.filter';

/** The filter on one request: what it answered and what it logged. */
function run(exception: unknown, req: Record<string, unknown>) {
  const filter = new AllExceptionsFilter();
  const logged: unknown[][] = [];
  (filter as unknown as { logger: { error: (...a: unknown[]) => void } }).logger = {
    error: (...a: unknown[]) => logged.push(a),
  };
  const answer: { status?: number; body?: unknown; headers?: Record<string, string> } = {};
  const res = {
    headersSent: false,
    set(headers: Record<string, string>) {
      answer.headers = { ...answer.headers, ...headers };
      return this;
    },
    status(code: number) {
      answer.status = code;
      return this;
    },
    json(body: unknown) {
      answer.body = body;
      return this;
    },
  };
  const host = {
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }),
  } as unknown as ArgumentsHost;
  filter.catch(exception, host);
  return { answer, logged };
}

describe('AllExceptionsFilter', () => {
  it("logs an unexpected error with the request's method, URL and request log id, and answers a generic 500", () => {
    const { answer, logged } = run(new Error('boom'), { method: 'POST', url: '/v1/slates', id: 42 });
    expect(answer.status).toBe(500);
    expect(answer.body).toEqual({
      error: { status: 500, code: 'internal_error', message: 'Internal server error.' },
    });
    expect(logged).toHaveLength(1);
    expect(logged[0][0]).toMatchObject({ method: 'POST', url: '/v1/slates', reqId: 42 });
    expect(logged[0][1]).toBe('request failed');
  });

  it('leaves the id out where there is no request log (above info), and never logs a client error', () => {
    const failed = run(new Error('boom'), { method: 'GET', url: '/v1/ping' });
    expect(failed.logged[0][0]).not.toHaveProperty('reqId');
    const client = run(new AppException(409, 'catalogue_empty', 'empty'), {
      method: 'GET',
      url: '/x',
      id: 1,
    });
    expect(client.answer.status).toBe(409);
    expect(client.logged).toEqual([]);
  });

  it("sets an AppException's headers; logs its 5xx unless it is an expected one (load shed)", () => {
    const shed = run(
      new AppException(503, 'overloaded', 'busy', undefined, {
        headers: { 'Retry-After': '1' },
        expected: true,
      }),
      { method: 'POST', url: '/v1/slates', id: 3 },
    );
    expect(shed.answer.status).toBe(503);
    expect(shed.answer.headers).toEqual({ 'Retry-After': '1' });
    expect(shed.answer.body).toEqual({ error: { status: 503, code: 'overloaded', message: 'busy' } });
    expect(shed.logged).toEqual([]);
    const timeout = run(new AppException(503, 'slate_timeout', 'stuck'), {
      method: 'POST',
      url: '/v1/slates',
    });
    expect(timeout.answer.headers).toBeUndefined();
    expect(timeout.logged).toHaveLength(1);
  });
});
