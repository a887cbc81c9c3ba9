import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Logger } from 'nestjs-pino';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import { AppModule } from './app.module';
import { toApiError } from './common/filters/all-exceptions.filter';
import { LeanExpressAdapter } from './common/http/express-adapter';
import { jsonBody, sizeInBytes } from './common/http/json-body';
import { requestLog } from './common/logging/request-log';
import type { AppConfig } from './config/config';
import { openDatabase, type DatabaseHandle } from './database/database';
import { runMigrationsLocked } from './database/migrate';
import { httpMetricsMiddleware } from './modules/metrics/http-metrics.middleware';
import { MetricsService } from './modules/metrics/metrics.service';

export interface RecoApp {
  readonly app: INestApplication;
  readonly db: DatabaseHandle;
  readonly migrationsApplied: string[];
  close(): Promise<void>;
}

const IMPORT_PATH = '/v1/items:import';
const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'text/plain'];

/** Open the database, migrate (unless disabled), and build the Nest application (not yet listening). */
export async function createRecoApp(config: AppConfig): Promise<RecoApp> {
  const db = await openDatabase(config.database);
  let app: INestApplication | undefined;
  try {
    const migrationsApplied = config.database.runMigrations ? await runMigrationsLocked(db.dataSource) : [];
    const log = requestLog(config);
    // Express, with requests and responses built with its prototypes (see LeanExpressAdapter).
    app = await NestFactory.create(
      AppModule.forRoot(config, db.dataSource, log.logger),
      new LeanExpressAdapter(),
      {
        bodyParser: false,
        bufferLogs: true,
      },
    );
    app.useLogger(app.get(Logger));

    if (log.middleware) app.use(log.middleware);
    app.use(httpMetricsMiddleware(app.get(MetricsService)));
    // Body parsers by route: JSON (small) everywhere, NDJSON (large) for the catalogue import. JSON bodies take
    // a lean path in the common case and express.json otherwise (see jsonBody).
    const json = jsonBody(sizeInBytes(config.http.bodyLimit), express.json({ limit: config.http.bodyLimit }));
    const ndjson = express.text({ type: NDJSON_TYPES, limit: config.http.importBodyLimit });
    app.use((req: Request, res: Response, next: NextFunction) =>
      req.path === IMPORT_PATH ? ndjson(req, res, next) : json(req, res, next),
    );
    // Body-parser errors happen before any route, outside Nest's filters: shape them here.
    app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
      if (res.headersSent) return next(err);
      const { status, body } = toApiError(err, 'body');
      res.status(status).json(body);
    });

    const doc = SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('reco')
        .setDescription(
          'Slate recommendations with in-slate Thompson sampling, propensity-corrected learning, replay and experiments.',
        )
        .setVersion('0.1.0')
        .build(),
    );
    SwaggerModule.setup('docs', app, cleanupOpenApiDoc(doc), { jsonDocumentUrl: 'docs-json' });
    await app.init();
    const nest = app;
    return {
      app: nest,
      db,
      migrationsApplied,
      async close() {
        await nest.close();
        await db.close();
      },
    };
  } catch (e) {
    await app?.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw e;
  }
}
