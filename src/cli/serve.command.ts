import type { Command } from 'commander';
import { Logger } from 'nestjs-pino';
import { createRecoApp } from '../app';
import { loadConfig } from '../config/config';
import { withOverrides } from './env-overrides';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('Run the HTTP service (and the Kafka consumer when KAFKA_BROKERS is set).')
    .option('-p, --port <port>', 'HTTP port (overrides PORT)')
    .option(
      '--data-dir <dir>',
      'embedded database directory when DATABASE_URL is unset (overrides RECO_DATA_DIR)',
    )
    .option('--no-migrate', 'do not apply pending migrations at start (MIGRATIONS_RUN=false)')
    .addHelpText('after', '\nConfiguration comes from environment variables; `reco config` lists them.')
    .action(async (opts: { port?: string; dataDir?: string; migrate: boolean }) => {
      const config = loadConfig(
        withOverrides(process.env, {
          PORT: opts.port,
          RECO_DATA_DIR: opts.dataDir,
          MIGRATIONS_RUN: opts.migrate ? undefined : 'false',
        }),
      );
      const reco = await createRecoApp(config);
      const logger = reco.app.get(Logger);
      await reco.app.listen(config.http.port, config.http.host);
      const address = reco.app.getHttpServer().address() as { port: number } | null;
      logger.log({
        msg:
          `reco listening on ${config.http.host}:${address?.port ?? config.http.port}; ` +
          `database ${reco.db.mode} (${reco.db.where}); events over ${config.kafka.mode === 'kafka' ? `Kafka (${config.kafka.brokers.join(',')})` : 'HTTP'}`,
        http: { host: config.http.host, port: address?.port ?? config.http.port },
        database: { mode: reco.db.mode, where: reco.db.where },
        events:
          config.kafka.mode === 'kafka' ? { mode: 'kafka', brokers: config.kafka.brokers } : { mode: 'http' },
        migrationsApplied: reco.migrationsApplied,
      });
      await new Promise<void>((resolve) => {
        let closing = false;
        const stop = (signal: string) => {
          if (closing) return;
          closing = true;
          logger.log({ msg: 'shutting down', signal });
          reco
            .close()
            .catch((e: unknown) => logger.error({ err: e }, 'error during shutdown'))
            .finally(resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    });
}
