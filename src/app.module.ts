import { hostname } from 'node:os';
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LoggerModule } from 'nestjs-pino';
import type { DataSource } from 'typeorm';
import { AllExceptionsFilter } from './common/filters/all-exceptions.filter';
import { ZodPipe } from './common/validation/zod.pipe';
import { APP_CONFIG, type AppConfig, requestLogOff } from './config/config';
import { HealthModule } from './modules/health/health.module';
import { ItemsModule } from './modules/items/items.module';
import { MetricsModule } from './modules/metrics/metrics.module';
import { ModelModule } from './modules/model/model.module';
import { SlatesModule } from './modules/slates/slates.module';
import { EventsModule } from './modules/events/events.module';
import { LearningModule } from './modules/learning/learning.module';
import { KafkaModule } from './modules/kafka/kafka.module';

@Module({})
export class AppModule {
  /** The app around an already opened data source (embedded or external: the same code path). */
  static forRoot(config: AppConfig, dataSource: DataSource): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.log.level,
            // Probes and scrapes would drown the request log.
            autoLogging: { ignore: (req) => /^\/(health|metrics)/.test(req.url ?? '') },
            // A base binding, not pino-http's customProps: those cost a child logger per request and a
            // stringify per response, even at levels where the request log is off.
            base: { pid: process.pid, hostname: hostname(), service: 'reco' },
          },
          // The request log is written at info. Above it, the per-request middleware logs nothing and still costs
          // every request: a child logger with the request serialised into it, and an AsyncLocalStorage context
          // (whose hooks, once used, run on every promise of the process). Logs then come from the root logger;
          // the exception filter names the method and URL of a failed request itself.
          ...(requestLogOff(config.log.level) ? { forRoutes: [] } : {}),
        }),
        TypeOrmModule.forRootAsync({
          useFactory: () => dataSource.options,
          dataSourceFactory: async () => dataSource,
        }),
        MetricsModule,
        HealthModule,
        ItemsModule,
        ModelModule,
        SlatesModule,
        LearningModule,
        EventsModule,
        KafkaModule,
      ],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: APP_PIPE, useValue: new ZodPipe() },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
      ],
      exports: [APP_CONFIG],
    };
  }
}
