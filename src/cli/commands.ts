import type { Command } from 'commander';
import { registerConfigCommand } from './config.command';
import { registerMigrateCommand } from './migrate.command';
import { registerServeCommand } from './serve.command';

/** Every `reco` sub-command registers itself here; one line per command file. */
export const commandRegistrars: ReadonlyArray<(program: Command) => void> = [
  registerServeCommand,
  registerMigrateCommand,
  registerConfigCommand,
];
