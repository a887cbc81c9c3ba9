import { Module } from '@nestjs/common';
import { ItemsController } from './items.controller';
import { ItemsRepository, TypeOrmItemsRepository } from './items.repository';
import { ItemsService } from './items.service';

@Module({
  controllers: [ItemsController],
  providers: [ItemsService, { provide: ItemsRepository, useClass: TypeOrmItemsRepository }],
  exports: [ItemsService, ItemsRepository],
})
export class ItemsModule {}
