import { Readable } from 'node:stream';
import express, { type Request, type RequestHandler, type Response } from 'express';
import { jsonBody, sizeInBytes } from './json-body';

/** A request as both parsers read it: headers plus a body stream (and what on-finished needs to call it open). */
function fakeRequest(headers: Record<string, string>, body: Buffer): Request {
  const r = new Readable({ read() {} });
  r.push(body);
  r.push(null);
  return Object.assign(r, {
    headers,
    method: 'POST',
    url: '/',
    complete: false,
    socket: { readable: true },
  }) as unknown as Request;
}

interface Outcome {
  body?: unknown;
  error?: { status: unknown; type: unknown; message: unknown };
}

function run(handler: RequestHandler, headers: Record<string, string>, body: Buffer): Promise<Outcome> {
  const req = fakeRequest(headers, body);
  return new Promise((resolve) => {
    void handler(req, {} as Response, (err?: unknown) => {
      if (err) {
        const e = err as { status?: unknown; type?: unknown; message?: unknown };
        resolve({ error: { status: e.status, type: e.type, message: e.message } });
      } else resolve({ body: (req as { body?: unknown }).body });
    });
  });
}

const jsonHeaders = (body: Buffer, contentType = 'application/json') => ({
  'content-type': contentType,
  'content-length': String(body.length),
});

describe('jsonBody', () => {
  const reference = express.json({ limit: '1kb' });

  it('parses what express.json parses and rejects what it rejects, with the same error', async () => {
    const bodies = [
      '{"userId":"u","size":10}',
      '[1,2,3]',
      '',
      '   ',
      ' \n{"a":1}',
      '\t[true]',
      'null',
      '"text"',
      '12',
      'true',
      'nul',
      '{"a":',
      '{bad}',
      '{"a":1}x',
      ' x{"a":1}',
      '\uFEFF{"a":1}',
      '{"é":"ü 😀"}',
    ];
    for (const text of bodies) {
      const buf = Buffer.from(text, 'utf8');
      for (const type of ['application/json', 'application/json; charset=utf-8', 'Application/JSON']) {
        const ours = await run(jsonBody(1024, reference), jsonHeaders(buf, type), buf);
        const theirs = await run(reference, jsonHeaders(buf, type), buf);
        expect({ text, type, ...ours }).toEqual({ text, type, ...theirs });
      }
    }
  });

  it('hands every other request to the fallback', async () => {
    const buf = Buffer.from('{"a":1}');
    const cases: Record<string, string>[] = [
      { 'content-type': 'application/json' }, // no length
      { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      { ...jsonHeaders(buf), 'content-encoding': 'gzip' },
      jsonHeaders(buf, 'application/json; charset=latin1'),
      jsonHeaders(buf, 'application/merge-patch+json'),
      jsonHeaders(buf, 'text/plain'),
      { 'content-type': 'application/json', 'content-length': '2048' }, // over the limit
    ];
    for (const headers of cases) {
      const fallback = jest.fn((_req: Request, _res: Response, next: () => void) => next());
      await run(jsonBody(1024, fallback), headers, buf);
      expect({ headers, calls: fallback.mock.calls.length }).toEqual({ headers, calls: 1 });
    }
    const fallback = jest.fn();
    const ours = await run(jsonBody(1024, fallback), jsonHeaders(buf), buf);
    expect(fallback).not.toHaveBeenCalled();
    expect(ours.body).toEqual({ a: 1 });
  });

  it('reads a body that arrives in several chunks, split inside a character', async () => {
    const buf = Buffer.from('{"name":"Zoë","tags":["à","b"]}', 'utf8');
    const cut = buf.indexOf(0xc3) + 1; // between the two bytes of ë
    const req = new Readable({ read() {} });
    req.push(buf.subarray(0, cut));
    req.push(buf.subarray(cut));
    req.push(null);
    Object.assign(req, { headers: jsonHeaders(buf) });
    const body = await new Promise((resolve, reject) => {
      void jsonBody(1024, jest.fn())(req as unknown as Request, {} as Response, (err?: unknown) =>
        err ? reject(err as Error) : resolve((req as unknown as { body: unknown }).body),
      );
    });
    expect(body).toEqual({ name: 'Zoë', tags: ['à', 'b'] });
  });
});

describe('sizeInBytes', () => {
  it('counts k as 1024, as body-parser does', () => {
    expect(sizeInBytes('512b')).toBe(512);
    expect(sizeInBytes('100kb')).toBe(102_400);
    expect(sizeInBytes('1MB')).toBe(1_048_576);
    expect(() => sizeInBytes('1gb')).toThrow(/size/);
  });
});
