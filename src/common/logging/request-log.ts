import { hostname } from 'node:os';
import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger as PinoLogger } from 'pino';
import { type AppConfig, requestLogOff } from '../../config/config';

/** The service's logger and its request log (pino-http), built once per app. */
export interface RequestLog {
  /** The root logger (nestjs-pino's `PinoLogger.root` derives from it: one destination for every log line). */
  readonly logger: PinoLogger;
  /** The request log's middleware, or null above info (the level it writes at): then no request pays for it. */
  readonly middleware: RequestHandler | null;
}

/**
 * One JSON line a request at info (probes and scrapes left out), from pino-http, installed by the app itself rather
 * than by nestjs-pino's middleware: that one also runs every request in an AsyncLocalStorage context (for
 * request-scoped application logs), whose hooks then run on every promise of the process. bench:http at info:
 * 1.38–1.44 ms of CPU a slate without that context against 1.59–1.61 with it (docs/benchmarks.md, twelfth session).
 * Application logs come from the root logger; a failed request's log names its method, URL and request id
 * (`reqId`, the request log's `req.id`).
 */
export function requestLog(config: AppConfig): RequestLog {
  const http = pinoHttp({
    level: config.log.level,
    // Probes and scrapes would drown the request log.
    autoLogging: { ignore: (req) => /^\/(health|metrics)/.test(req.url ?? '') },
    // A base binding, not pino-http's customProps: those cost a child logger per request and a stringify per
    // response.
    base: { pid: process.pid, hostname: hostname(), service: 'reco' },
    // Credentials a client or a proxy may send never reach the logs.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["proxy-authorization"]',
        'req.headers.cookie',
        'res.headers["set-cookie"]',
      ],
      censor: '[redacted]',
    },
  });
  return {
    logger: http.logger,
    middleware: requestLogOff(config.log.level) ? null : (http as unknown as RequestHandler),
  };
}
