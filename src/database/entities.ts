import { ItemEntity } from '../modules/items/item.entity';

/** Every TypeORM entity; entities stay in the persistence layer (repositories map them to plain types). */
export const entities = [ItemEntity];
