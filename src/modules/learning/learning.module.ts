import { Module } from '@nestjs/common';
import { ModelModule } from '../model/model.module';
import { LearningService } from './learning.service';

@Module({
  imports: [ModelModule],
  providers: [LearningService],
  exports: [LearningService],
})
export class LearningModule {}
