import type { Config } from '../config.js';
import type { Logger } from '../lib/logger.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './embedded-postgres.js';
import { createPool, type Pool } from './pool.js';
import { readDatabaseSecret } from './secret.js';

export interface OpenDatabase {
  db: Pool;
  /** Set when the embedded PostgreSQL is in use. */
  embedded?: EmbeddedPostgresHandle;
}

/**
 * Opens the database the config names: DATABASE_URL, the RDS secret DB_SECRET_ID, or the embedded
 * PostgreSQL under DATA_DIR (started, or adopted when already running).
 *
 * @param role `service` stops an adopted embedded server at shutdown; `cli` leaves it running.
 */
export async function openDatabase(config: Config, logger: Logger, role: 'service' | 'cli' = 'service'): Promise<OpenDatabase> {
  const common = { ssl: config.DB_SSL, sslCaFile: config.DB_SSL_CA_FILE, max: role === 'cli' ? 2 : config.DB_POOL_MAX } as const;
  if (config.DATABASE_URL) return { db: createPool({ ...common, connectionString: config.DATABASE_URL }, logger) };
  if (config.DB_SECRET_ID) {
    const c = await readDatabaseSecret(config.DB_SECRET_ID, config.AWS_REGION);
    logger.info({ host: c.host, port: c.port }, 'database_credentials_from_secret');
    return { db: createPool({ ...common, ...c, database: c.database ?? config.DB_NAME }, logger) };
  }
  const embedded = await startEmbeddedPostgres({
    dataDir: config.dataDir,
    database: config.DB_NAME,
    port: config.EMBEDDED_PG_PORT,
    logger,
    stopAdopted: role === 'service',
  });
  return { db: createPool({ ...common, ssl: 'disable', connectionString: embedded.url }, logger), embedded };
}
