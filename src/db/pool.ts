import fs from 'node:fs';
import pg from 'pg';
import type { Logger } from '../lib/logger.js';
import { errFields } from '../lib/logger.js';

export type Pool = pg.Pool;

export interface PoolOptions {
  connectionString?: string;
  user?: string;
  password?: string;
  host?: string;
  port?: number;
  database?: string;
  ssl: 'disable' | 'require' | 'verify-full';
  /** PEM bundle to verify the server with (e.g. the RDS CA bundle). */
  sslCaFile?: string;
  max: number;
}

/**
 * A pg pool that survives the database going away: idle-client errors are logged, not thrown, and
 * every query after an outage simply opens a new connection once the server is back.
 */
export function createPool(opts: PoolOptions, logger: Logger): Pool {
  const ssl =
    opts.ssl === 'disable'
      ? undefined
      : {
          rejectUnauthorized: opts.ssl === 'verify-full',
          ca: opts.sslCaFile ? fs.readFileSync(opts.sslCaFile, 'utf8') : undefined,
        };
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    user: opts.user,
    password: opts.password,
    host: opts.host,
    port: opts.port,
    database: opts.database,
    ssl,
    max: opts.max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // Fail fast rather than queue forever when the server is unreachable.
    query_timeout: 30_000,
    application_name: 'arogya-live',
  });
  pool.on('error', (err) => logger.warn({ err: errFields(err) }, 'db_idle_client_error'));
  return pool;
}
