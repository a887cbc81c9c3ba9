import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LoggerModule } from 'nestjs-pino';
import type { Logger as PinoLogger } from 'pino';
import type { DataSource } from 'typeorm';
import { AllExceptionsFilter } from './common/filters/all-exceptions.filter';
import { ZodPipe } from './common/validation/zod.pipe';
import { APP_CONFIG, type AppConfig } from './config/config';
import { HealthModule } from './modules/health/health.module';
import { ItemsModule } from './modules/items/items.module';
import { MetricsModule } from './modules/metrics/metrics.module';
import { ModelModule } from './modules/model/model.module';
import { SlatesModule } from './modules/slates/slates.module';
import { EventsModule } from './modules/events/events.module';
import { LearningModule } from './modules/learning/learning.module';
import { KafkaModule } from './modules/kafka/kafka.module';
import { RetentionModule } from './modules/retention/retention.module';

@Module({})
export class AppModule {
  /** The app around an already opened data source (embedded or external: the same code path). */
  static forRoot(config: AppConfig, dataSource: DataSource, logger: PinoLogger): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [
        // Nest's logs through pino, from the app's root logger. nestjs-pino's own middleware (a request log and an
        // AsyncLocalStorage context every request) is not installed: the app installs the request log itself at info
        // and below (see common/logging/request-log.ts).
        LoggerModule.forRoot({ pinoHttp: { logger }, forRoutes: [] }),
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
        RetentionModule,
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
