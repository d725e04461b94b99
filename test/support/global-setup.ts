import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { createLogger } from '../../src/lib/logger.js';

export { freePort } from '../../src/lib/free-port.js';

/**
 * One real PostgreSQL 16 for the whole run, started the way `npm start` starts its own. Each test
 * file makes its own database from it with `createTestDatabase()` (test/support/db.ts).
 *
 * Not through the `embedded-postgres` package's JavaScript: it installs process-wide exit hooks
 * (async-exit-hook) that make the vitest process exit 0 even when tests fail.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-test-pg-'));
  const pg = await startEmbeddedPostgres({
    dataDir: root,
    database: 'postgres',
    logger: createLogger({ level: 'silent' }),
    stopAdopted: true,
    settings: { max_connections: '300', fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
  });
  project.provide('pgAdminUrl', pg.url);
  return async () => {
    await pg.stop();
    fs.rmSync(root, { recursive: true, force: true });
  };
}


declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}
