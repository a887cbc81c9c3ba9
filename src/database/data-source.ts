import { DataSource, type DataSourceOptions } from 'typeorm';
import { migrations } from '../../migrations';
import { entities } from './entities';

export interface DataSourceParams {
  url: string;
  poolSize: number;
}

/** The one data-source definition, shared by the service, the `reco migrate` command and the tests. */
export function dataSourceOptions({ url, poolSize }: DataSourceParams): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities,
    migrations,
    migrationsTableName: 'reco_migrations',
    // The schema comes only from migrations.
    synchronize: false,
    migrationsRun: false,
    poolSize,
    extra: { max: poolSize, connectionTimeoutMillis: 10_000 },
    // Failed queries surface as exceptions; TypeORM's console logger would print them on stdout, which
    // carries data for commands such as `reco export`.
    logging: false,
  };
}

export function createDataSource(params: DataSourceParams): DataSource {
  return new DataSource(dataSourceOptions(params));
}
