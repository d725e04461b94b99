import { ConfigError, loadConfig } from '../config.js';
import { migrate } from '../db/migrations.js';
import { openDatabase } from '../db/open.js';
import type { Pool } from '../db/pool.js';
import { createLogger } from '../lib/logger.js';
import type { CliIo } from './main.js';

/**
 * Runs `fn` with a migrated database from the service's configuration, then closes everything the
 * command opened. Logs go to stderr (warnings only), so stdout stays the command's own output.
 */
export async function withDatabase<T>(io: CliIo, fn: (db: Pool) => Promise<T>, options: { migrate?: boolean } = {}): Promise<T> {
  let config;
  try {
    config = loadConfig(io.env);
  } catch (err) {
    if (err instanceof ConfigError) io.stderr.write(`${err.message}\n`);
    throw err;
  }
  const logger = createLogger({ level: 'warn', name: 'arogya-live-cli' }, io.stderr as unknown as import('pino').DestinationStream);
  const { db, embedded } = await openDatabase(config, logger, 'cli');
  try {
    if (options.migrate !== false) {
      const client = await db.connect();
      try {
        await migrate(client, logger, 'up');
      } finally {
        client.release();
      }
    }
    return await fn(db);
  } finally {
    await db.end();
    if (embedded?.owned) await embedded.stop();
  }
}

/** Reads all of stdin (one password), without the trailing newline. */
export async function readStdin(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Minimal `--flag value` / `--switch` parser (node:util parseArgs with strict options). */
export async function parseFlags(args: string[], spec: Record<string, 'string' | 'boolean'>) {
  const { parseArgs } = await import('node:util');
  return parseArgs({
    args,
    options: Object.fromEntries(Object.entries(spec).map(([k, type]) => [k, { type }])),
    allowPositionals: true,
    strict: true,
  });
}
