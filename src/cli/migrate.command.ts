import type { Command } from 'commander';
import { loadConfig } from '../config/config';
import { openDatabase } from '../database/database';
import { runMigrationsLocked } from '../database/migrate';
import { withOverrides } from './env-overrides';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('Apply pending database migrations (under an advisory lock) and exit.')
    .option(
      '--data-dir <dir>',
      'embedded database directory when DATABASE_URL is unset (overrides RECO_DATA_DIR)',
    )
    .action(async (opts: { dataDir?: string }) => {
      const config = loadConfig(withOverrides(process.env, { RECO_DATA_DIR: opts.dataDir }));
      const db = await openDatabase(config.database);
      try {
        const applied = await runMigrationsLocked(db.dataSource);
        process.stdout.write(
          applied.length
            ? `applied ${applied.length} migration(s) on ${db.where}:\n${applied.map((n) => `  ${n}`).join('\n')}\n`
            : `database ${db.where} is up to date\n`,
        );
      } finally {
        await db.close();
      }
    });
}
