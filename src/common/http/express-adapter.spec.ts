import { createServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { expressServerOptions } from './express-adapter';

describe('expressServerOptions', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((r) => server?.close(r));
    server = undefined;
  });

  /** A server for `app` with these options; what a request and its response are made of when they arrive. */
  async function serve(app: express.Express, lean: boolean) {
    const arrived: { requestProto?: unknown; responseProto?: unknown } = {};
    server = lean ? createServer(expressServerOptions(app)!, app) : createServer(app);
    // Before Express's own listener: the objects as Node built them.
    server.prependListener('request', (req, res) => {
      arrived.requestProto = Object.getPrototypeOf(req);
      arrived.responseProto = Object.getPrototypeOf(res);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { base, arrived };
  }

  function app(): express.Express {
    const a = express();
    a.use(express.json());
    a.post('/echo', (req, res) => {
      res.status(201).json({
        body: req.body as unknown,
        path: req.path,
        header: req.get('x-test'),
        isRequest: req instanceof IncomingMessage,
        isResponse: res instanceof ServerResponse,
      });
    });
    return a;
  }

  it("builds each request and response with the app's own prototypes, so Express need not change them", async () => {
    const a = app();
    const { base, arrived } = await serve(a, true);
    const r = await fetch(`${base}/echo?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-test': 'yes' },
      body: JSON.stringify({ a: 1 }),
    });
    expect(arrived.requestProto).toBe(a.request);
    expect(arrived.responseProto).toBe(a.response);
    // Express's request and response work as ever, and they are still Node's.
    expect(r.status).toBe(201);
    expect(await r.json()).toEqual({
      body: { a: 1 },
      path: '/echo',
      header: 'yes',
      isRequest: true,
      isResponse: true,
    });
  });

  it("differs from Node's default server only there", async () => {
    const a = app();
    const { base, arrived } = await serve(a, false);
    const r = await fetch(`${base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":2}',
    });
    expect(arrived.requestProto).toBe(IncomingMessage.prototype);
    expect(arrived.responseProto).toBe(ServerResponse.prototype);
    expect(r.status).toBe(201);
    expect((await r.json()) as unknown).toMatchObject({ body: { a: 2 } });
  });
});
