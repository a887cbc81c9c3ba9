import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/config';
import { impressionEvent } from '../../messaging/impression-event';
import { LearningService } from '../learning/learning.service';
import { ImpressionDeliveryService } from '../slates/impression-delivery.service';

/** With no Kafka, served slates go to the learner in-process, once they are stored. */
@Injectable()
export class InProcessImpressions implements OnModuleInit {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly delivery: ImpressionDeliveryService,
    private readonly learning: LearningService,
  ) {}

  onModuleInit(): void {
    if (this.config.kafka.mode !== 'http') return;
    this.delivery.addSink(async (batch) => {
      await this.learning.learn(batch.map(impressionEvent), 'serving');
    });
  }
}
