#!/usr/bin/env node
import 'reflect-metadata';
import { Command, CommanderError } from 'commander';
import { commandRegistrars } from './cli/commands';
import { CliError } from './cli/cli-error';
import { ConfigError } from './config/config';

/** `reco`: one entry point for the service and every offline tool. */
export function buildProgram(): Command {
  const program = new Command('reco')
    .description(
      'reco: slate recommendations with Thompson sampling, propensity-corrected learning, replay and experiments',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of commandRegistrars) register(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`reco: ${e.message}\n`);
      process.exitCode = 78; // EX_CONFIG
      return;
    }
    if (e instanceof CliError) {
      process.stderr.write(`reco: ${e.message}\n`);
      process.exitCode = e.exitCode;
      return;
    }
    process.stderr.write(`reco: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) {
  void main(process.argv);
}
