import { Module } from '@nestjs/common';
import { ItemsModule } from '../items/items.module';
import { ModelController } from './model.controller';
import { ModelService } from './model.service';
import { ModelStateRepository } from './model-state.repository';

@Module({
  imports: [ItemsModule],
  controllers: [ModelController],
  providers: [ModelService, ModelStateRepository],
  exports: [ModelService, ModelStateRepository],
})
export class ModelModule {}
