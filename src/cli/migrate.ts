import { migrate, migrationStatus } from '../db/migrations.js';
import { createLogger } from '../lib/logger.js';
import { withDatabase } from './context.js';
import type { CliIo } from './main.js';

/** `arogya-live migrate up|down|status` (also `npm run migrate -- up`). */
export async function runMigrateCommand(args: string[], io: CliIo): Promise<number> {
  const [direction] = args;
  if (direction !== 'up' && direction !== 'down' && direction !== 'status') {
    io.stderr.write('Usage: arogya-live migrate up|down|status\n');
    return 2;
  }
  const logger = createLogger({ level: 'info', name: 'arogya-live-migrate' }, io.stderr as unknown as import('pino').DestinationStream);
  await withDatabase(
    io,
    async (db) => {
      if (direction !== 'status') {
        const client = await db.connect();
        try {
          const ran = await migrate(client, logger, direction);
          io.stdout.write(ran.length ? `${direction}: ${ran.join(', ')}\n` : `${direction}: nothing to do\n`);
        } finally {
          client.release();
        }
      }
      const s = await migrationStatus(db);
      io.stdout.write(`${s.status}: ${s.applied} applied, ${s.pending} pending\n`);
    },
    { migrate: false },
  );
  return 0;
}
