/**
 * Entry point: config → logger → service → signals. Everything else is built in `startService`.
 */
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './lib/logger.js';
import { startService, type Service } from './service.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger({ level: config.LOG_LEVEL });
  let service: Service | undefined;
  let stopping = false;

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutdown_started');
    // The last resort: never outlive the container's stop timeout. Deliberately not unref'd: it
    // also keeps the event loop alive while shutdown steps wait on sockets and servers.
    setTimeout(() => {
      logger.error('shutdown_deadline_exceeded');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS + 2000);
    void (service?.close() ?? Promise.resolve()).then(() => {
      logger.info('shutdown_complete');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled_rejection');
    process.exit(1);
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught_exception');
    process.exit(1);
  });

  const started = Date.now();
  try {
    service = await startService(config, logger);
  } catch (err) {
    logger.fatal({ err }, 'startup_failed');
    process.exit(1);
  }
  logger.info({ url: service.url, startupMs: Date.now() - started }, 'service_ready');
  if (stopping) void service.close().then(() => process.exit(0));
}

void main();
