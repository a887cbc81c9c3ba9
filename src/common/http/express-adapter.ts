import { createServer, IncomingMessage, ServerResponse, type ServerOptions } from 'node:http';
import type { NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { Express } from 'express';

/**
 * The request and response classes of an HTTP server for `app`: Node's own, constructed with Express's prototypes
 * (`app.request`, `app.response`, which inherit Node's) from the start.
 *
 * Express gives every request and response its prototypes in `app.handle`, with `Object.setPrototypeOf`, on objects
 * Node has just built with its own. On V8 (Node 20) that change of prototype makes about a third of everything the
 * request then allocates survive the young generation's collections and be promoted: with Express 5 answering
 * `res.json` alone (autocannon, 16 connections, 6 s, `--trace-gc-nvp`), 33–34% of the allocated bytes survived a
 * scavenge (0.2% without), and the server answered 7.0–7.9k requests/s against 19.3–19.8k with these classes.
 * Objects that already have those prototypes make Express's call a no-op (the prototype is unchanged), and nothing
 * else differs: the same constructors run, `instanceof IncomingMessage` still holds.
 */
export function expressServerOptions(app: Express): ServerOptions | null {
  // Node's constructors are plain functions (Node 20), called here on an object made from Express's prototype
  // (`Reflect.construct` with that prototype as the new target also works, but measured 4× slower than a plain
  // call: 5.1k against 20.3k requests/s). Were they classes, they could not be called so: Node's own server then.
  if (isClass(IncomingMessage) || isClass(ServerResponse)) return null;
  const initRequest = IncomingMessage as unknown as (this: unknown, socket: unknown) => void;
  const initResponse = ServerResponse as unknown as (this: unknown, req: unknown, options: unknown) => void;
  function ExpressRequest(this: unknown, socket: unknown): void {
    initRequest.call(this, socket);
  }
  ExpressRequest.prototype = app.request;
  function ExpressResponse(this: unknown, req: unknown, options: unknown): void {
    initResponse.call(this, req, options);
  }
  ExpressResponse.prototype = app.response;
  return {
    IncomingMessage: ExpressRequest as unknown as typeof IncomingMessage,
    ServerResponse: ExpressResponse as unknown as typeof ServerResponse,
  };
}

function isClass(f: unknown): boolean {
  return typeof f === 'function' && Function.prototype.toString.call(f).startsWith('class');
}

/**
 * Nest's Express adapter with an HTTP server built by `expressServerOptions`. HTTPS and `forceCloseConnections`,
 * which the service does not use, go to Nest's own server, and so does a Node whose constructors are classes.
 */
export class LeanExpressAdapter extends ExpressAdapter {
  override initHttpServer(options: NestApplicationOptions): void {
    if (options?.httpsOptions || options?.forceCloseConnections) {
      super.initHttpServer(options);
      return;
    }
    const app = this.getInstance<Express>();
    const lean = expressServerOptions(app);
    if (!lean) {
      super.initHttpServer(options);
      return;
    }
    this.setHttpServer(createServer(lean, app));
  }
}
