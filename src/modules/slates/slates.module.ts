import { Module } from '@nestjs/common';
import { ModelModule } from '../model/model.module';
import { ImpressionDeliveryService } from './impression-delivery.service';
import { ImpressionLogService } from './impression-log.service';
import { ImpressionsRepository, TypeOrmImpressionsRepository } from './impressions.repository';
import { SlatesController } from './slates.controller';
import { SlatesService } from './slates.service';

@Module({
  imports: [ModelModule],
  controllers: [SlatesController],
  providers: [
    SlatesService,
    ImpressionLogService,
    ImpressionDeliveryService,
    { provide: ImpressionsRepository, useClass: TypeOrmImpressionsRepository },
  ],
  exports: [SlatesService, ImpressionLogService, ImpressionDeliveryService],
})
export class SlatesModule {}
