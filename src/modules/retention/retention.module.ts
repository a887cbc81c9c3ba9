import { Module } from '@nestjs/common';
import { LogRetentionService } from './log-retention.service';

/** `LOG_RETENTION_DAYS`: old served slates and clicks deleted in the background. */
@Module({
  providers: [LogRetentionService],
  exports: [LogRetentionService],
})
export class RetentionModule {}
