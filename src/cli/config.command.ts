import type { Command } from 'commander';
import { configMarkdownTable, loadConfig } from '../config/config';

export function registerConfigCommand(program: Command): void {
  program
    .command('config')
    .description('Validate the configuration from the environment and print it; --markdown lists every key.')
    .option('--markdown', 'print the table of every environment variable, its default and meaning')
    .action((opts: { markdown?: boolean }) => {
      if (opts.markdown) {
        process.stdout.write(`${configMarkdownTable()}\n`);
        return;
      }
      const config = loadConfig(process.env);
      const shown = {
        ...config,
        database:
          config.database.mode === 'external'
            ? { ...config.database, url: config.database.url.replace(/:[^:@/]*@/, ':***@') }
            : config.database,
      };
      process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
    });
}
