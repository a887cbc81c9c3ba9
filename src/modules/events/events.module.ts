import { Module } from '@nestjs/common';
import { LearningModule } from '../learning/learning.module';
import { SlatesModule } from '../slates/slates.module';
import { EventsController } from './events.controller';
import { InProcessImpressions } from './in-process-impressions';

@Module({
  imports: [LearningModule, SlatesModule],
  controllers: [EventsController],
  providers: [InProcessImpressions],
})
export class EventsModule {}
