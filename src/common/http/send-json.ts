import type { ServerResponse } from 'node:http';

/**
 * Write a JSON body in one go, for hot routes: one `JSON.stringify`, headers and body in a single socket write,
 * none of Express's `res.json` work (content-type parsing, a SHA-1 ETag of every body, a Buffer copy). The
 * headers are the ones `res.json` sends, less the ETag, which no client of a POST can use.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(json));
  // A string (not a Buffer) lets Node send the header block and the body in the same write.
  res.end(json);
}
