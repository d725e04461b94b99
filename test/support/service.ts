import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { UserRepository, type Role } from '../../src/auth/users.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { startService, type Service, type ServiceOverrides } from '../../src/service.js';
import { createTestDatabase } from './db.js';
import { FakeEngine } from './fake-engine.js';
import { HttpClient } from './http.js';
import { LogCapture } from './log-capture.js';

export interface TestService {
  service: Service;
  url: string;
  config: Config;
  logs: LogCapture;
  dataDir: string;
  databaseUrl: string;
  /** Creates a user directly in the database; returns its credentials. */
  createUser(role: Role, username?: string): Promise<{ id: string; username: string; password: string; role: Role }>;
  /** A new cookie-keeping client; `login` it to get a session. */
  client(headers?: Record<string, string>): HttpClient;
  /** A logged-in client for a new user of that role. */
  loggedIn(role: Role): Promise<{ http: HttpClient; user: { id: string; username: string; password: string; role: Role } }>;
  close(): Promise<void>;
}

/**
 * Starts the real service in this process on port 0, over a fresh database on the run's
 * PostgreSQL, with a temp DATA_DIR. Everything is torn down by `close()`.
 */
export async function startTestService(
  env: Record<string, string> = {},
  overrides: Omit<ServiceOverrides, 'engine'> & { engine?: ServiceOverrides['engine'] | 'configured' } = {},
  database?: { url: string; drop?: () => Promise<void> },
): Promise<TestService> {
  const db = database ?? (await createTestDatabase());
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-svc-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    DATABASE_URL: db.url,
    LOG_LEVEL: 'debug',
    HEALTH_CACHE_MS: '200',
    // Engine reconnects are fast in tests unless a test says otherwise.
    ENGINE_BACKOFF_BASE_MS: '20',
    ENGINE_BACKOFF_MAX_MS: '200',
    // The repair pass would open engine streams after a test's session has ended (and count in its
    // engine's requests): on only where a test asks for it.
    REPAIR_CONCURRENCY: '0',
    // The start-up warm-up costs seconds per service on a shared machine: on where a test asks for it.
    WARM_UP_CHUNKS: '0',
    ...env,
  });
  const logs = new LogCapture();
  const logger = createLogger({ level: config.LOG_LEVEL }, logs);
  // Tests that are not about the speech engine get the scripted fake at the port; pass
  // `engine: 'configured'` to build the real one from TRANSCRIBE_ENGINE.
  const { engine: engineChoice, ...rest } = overrides as ServiceOverrides & { engine?: ServiceOverrides['engine'] | 'configured' };
  const engine = engineChoice === 'configured' ? undefined : (engineChoice ?? new FakeEngine());
  const service = await startService(config, logger, { ...rest, ...(engine ? { engine } : {}) });
  const users = new UserRepository(service.db);
  const createUser = async (role: Role, username = `${role}-${randomBytes(4).toString('hex')}`) => {
    const password = `pw-${randomBytes(9).toString('base64url')}`;
    const u = await users.create({ username, role, password });
    return { id: u.id, username: u.username, password, role };
  };
  return {
    service,
    url: service.url,
    config,
    logs,
    dataDir,
    databaseUrl: db.url,
    createUser,
    client: (headers) => new HttpClient(service.url, headers),
    loggedIn: async (role) => {
      const user = await createUser(role);
      const http = new HttpClient(service.url);
      await http.login(user.username, user.password);
      return { http, user };
    },
    close: async () => {
      await service.close();
      await db.drop?.();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A direct connection to a test database, for assertions on stored rows. */
export async function queryDb<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}
