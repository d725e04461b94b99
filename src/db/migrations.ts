import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { Logger } from '../lib/logger.js';

/** `migrations/` at the package root, wherever the code runs from (src/ under tsx, dist/ built). */
export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');
export const MIGRATIONS_TABLE = 'pgmigrations';

export interface MigrationStatus {
  status: 'up_to_date' | 'pending';
  applied: number;
  pending: number;
}

/**
 * Applies migrations under node-pg-migrate's advisory lock in `wait` mode: when several tasks start
 * at once, one migrates and the others wait, then find nothing to do.
 */
export async function migrate(
  client: pg.ClientBase,
  logger: Logger,
  direction: 'up' | 'down' = 'up',
  count?: number,
): Promise<string[]> {
  const { runner } = await import('node-pg-migrate');
  const ran = await runner({
    dbClient: client,
    dir: MIGRATIONS_DIR,
    direction,
    count: count ?? (direction === 'up' ? Infinity : 1),
    migrationsTable: MIGRATIONS_TABLE,
    advisoryLockMode: 'wait',
    checkOrder: true,
    singleTransaction: true,
    logger: {
      debug: () => {},
      info: (msg: string) => logger.debug({ migration: msg }, 'migration_log'),
      warn: (msg: string) => logger.warn({ migration: msg }, 'migration_warning'),
      error: (msg: string) => logger.error({ migration: msg }, 'migration_error'),
    },
  });
  const names = ran.map((m) => m.name);
  if (names.length > 0) logger.info({ direction, migrations: names }, 'migrations_applied');
  return names;
}

/** Migration files on disk, by name without extension, in order. */
export function migrationFiles(): string[] {
  return fs
    .readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d+_.+\.(sql|js|ts)$/.test(f))
    .map((f) => f.replace(/\.(sql|js|ts)$/, ''))
    .sort();
}

/** Compares applied migrations with the files the running code ships. */
export async function migrationStatus(db: pg.Pool | pg.ClientBase, files: string[] = migrationFiles()): Promise<MigrationStatus> {
  const { rows } = await db
    .query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`)
    .catch((err: { code?: string }) => {
      if (err.code === '42P01') return { rows: [] as { name: string }[] }; // table not created yet
      throw err;
    });
  const applied = new Set(rows.map((r) => r.name));
  const pending = files.filter((f) => !applied.has(f)).length;
  return { status: pending === 0 ? 'up_to_date' : 'pending', applied: applied.size, pending };
}
