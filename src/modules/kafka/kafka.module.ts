import { Logger, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/config';
import { LearningModule } from '../learning/learning.module';
import { ModelModule } from '../model/model.module';
import { SlatesModule } from '../slates/slates.module';
import { createKafka } from './kafka-client';
import { KAFKA } from './kafka.tokens';
import { ImpressionPublisher } from './impression.publisher';
import { LearningConsumer } from './learning.consumer';

@Module({
  imports: [LearningModule, ModelModule, SlatesModule],
  providers: [
    {
      provide: KAFKA,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        config.kafka.mode === 'kafka'
          ? createKafka(
              { brokers: config.kafka.brokers, clientId: config.kafka.clientId },
              new Logger('Kafka'),
            )
          : null,
    },
    LearningConsumer,
    ImpressionPublisher,
  ],
})
export class KafkaModule {}
