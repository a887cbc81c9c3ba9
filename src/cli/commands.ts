import type { Command } from 'commander';
import { registerConfigCommand } from './config.command';
import { registerMigrateCommand } from './migrate.command';
import { registerServeCommand } from './serve.command';
import { registerReplayCommand } from './replay.command';
import { registerSchemasCommand } from './schemas.command';
import { registerTrainCommand } from './train.command';
import { registerExportCommand } from './export.command';

/** Every `reco` sub-command registers itself here (an import and an entry per command file). */
export const commandRegistrars: ReadonlyArray<(program: Command) => void> = [
  registerServeCommand,
  registerMigrateCommand,
  registerConfigCommand,
  registerReplayCommand,
  registerSchemasCommand,
  registerTrainCommand,
  registerExportCommand,
];
