import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** Bytes in a size like `512kb` or `1mb` (the config's format; k = 1024, as body-parser counts). */
export function sizeInBytes(size: string): number {
  const m = /^(\d+)(b|kb|mb)$/i.exec(size);
  if (!m) throw new Error(`not a size like 512kb or 1mb: "${size}"`);
  const unit = m[2].toLowerCase();
  return Number(m[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
}

/** A body-parser error as `toApiError` reads it (`type`, `status`, `message`). */
export type BodyError = Error & { status: number; statusCode: number; type: string; expose: boolean };

function bodyError(status: number, type: string, message: string, cause?: Error): BodyError {
  const e = (cause ?? new Error(message)) as BodyError;
  e.message = message;
  return Object.assign(e, { status, statusCode: status, type, expose: true });
}

// JSON's whitespace (space, tab, LF, CR), as body-parser defines it.
// eslint-disable-next-line no-control-regex -- tab, LF and CR are JSON whitespace
const FIRST_NON_WHITESPACE = /^[\x20\x09\x0a\x0d]*([^\x20\x09\x0a\x0d]|$)/;

/**
 * `express.json()`'s parse step in strict mode, error messages included (its `createStrictSyntaxError`):
 * an empty body is `{}`, a body that does not start with `{` or `[` is a 400 that quotes the offending text,
 * anything else is `JSON.parse`. Tested against express.json on the same bodies.
 */
export function parseStrictJson(text: string): unknown {
  if (text.length === 0) return {};
  if (text[0] !== '{' && text[0] !== '[') {
    const first = FIRST_NON_WHITESPACE.exec(text)?.[1] || undefined;
    if (first !== '{' && first !== '[') {
      const index = first === undefined ? -1 : text.indexOf(first);
      const partial = index === -1 ? '' : text.substring(0, index) + '#'.repeat(text.length - index);
      try {
        JSON.parse(partial);
      } catch (e) {
        const message = (e as Error).message.replace(/#+/g, (run) =>
          text.substring(index, index + run.length),
        );
        throw bodyError(400, 'entity.parse.failed', message, e as Error);
      }
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw bodyError(400, 'entity.parse.failed', (e as Error).message, e as Error);
  }
}

// `application/json`, optionally with a UTF-8 charset: the only content type the fast path takes.
const PLAIN_JSON = /^application\/json(?:\s*;\s*charset=(?:utf-8|"utf-8"))?$/i;

/**
 * The JSON body parser of the API. The common case (`application/json` in UTF-8, no content encoding, a
 * `Content-Length` within `limit`) is read here: collect the chunks, decode, one `JSON.parse`, with the same
 * result and the same errors as express.json (`parseStrictJson`). Anything else (chunked, compressed, another
 * charset or type, a larger body, no body) goes to `fallback`, which is express.json itself. The point is the
 * hot routes (`POST /v1/slates`): body-parser's generality (charset and encoding negotiation, iconv, raw-body's
 * stream bookkeeping, on-finished) costs more per request than the small body it reads.
 */
export function jsonBody(limit: number, fallback: RequestHandler): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const h = req.headers;
    const length = h['content-length'];
    if (
      length === undefined ||
      h['transfer-encoding'] !== undefined ||
      (h['content-encoding'] !== undefined && h['content-encoding'].toLowerCase() !== 'identity') ||
      !PLAIN_JSON.test(h['content-type'] ?? '') ||
      !/^\d{1,15}$/.test(length) ||
      Number(length) > limit
    ) {
      void fallback(req, res, next);
      return;
    }
    readBody(req, Number(length), (err, text) => {
      if (err) return next(err);
      try {
        // The UTF-8 decoder of body-parser (iconv-lite) drops a byte-order mark; so do we.
        req.body = parseStrictJson(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
      } catch (e) {
        return next(e);
      }
      next();
    });
  };
}

function readBody(
  req: IncomingMessage,
  expected: number,
  done: (err: Error | null, text: string) => void,
): void {
  const chunks: Buffer[] = [];
  let received = 0;
  let finished = false;
  const finish = (err: Error | null) => {
    if (finished) return;
    finished = true;
    req.removeListener('data', onData);
    req.removeListener('end', onEnd);
    req.removeListener('error', onError);
    req.removeListener('aborted', onAborted);
    if (err) return done(err, '');
    if (received !== expected) {
      return done(bodyError(400, 'request.size.invalid', 'request size did not match content length'), '');
    }
    done(
      null,
      chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks, received).toString('utf8'),
    );
  };
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    chunks.push(chunk);
  };
  const onEnd = () => finish(null);
  const onAborted = () => finish(bodyError(400, 'request.aborted', 'request aborted'));
  const onError = (e: Error) => finish(bodyError(400, 'request.aborted', 'request aborted', e));
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onError);
  req.on('aborted', onAborted);
}
