import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../support/http.js';
import { runCli, spawnService, type ServiceProcess } from '../support/process.js';

const dirs: string[] = [];
const procs: ServiceProcess[] = [];
afterAll(async () => {
  for (const p of procs) await p.stop('SIGKILL');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-e2e-'));
  dirs.push(d);
  return d;
}

function postgresRunningOn(dir: string): boolean {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('postgres') && cmd.includes(dir)) return true;
    } catch {
      /* process ended meanwhile */
    }
  }
  return false;
}

describe('npm start on embedded defaults', () => {
  it('runs two instances side by side, each with its own database, users and clean SIGTERM exit', async () => {
    const [dirA, dirB] = [dataDir(), dataDir()];
    // The first user is added before the service ever ran: the CLI starts the embedded database itself.
    const add = await runCli(['users', 'add', '--username', 'dr.a', '--role', 'clinician', '--password-stdin'], { DATA_DIR: dirA }, 'first-password-123\n');
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/Added clinician dr\.a/);
    expect(postgresRunningOn(dirA)).toBe(false); // the CLI stopped what it started

    const started = Date.now();
    const [a, b] = await Promise.all([spawnService({ DATA_DIR: dirA }), spawnService({ DATA_DIR: dirB })]);
    procs.push(a, b);
    const coldStartMs = Date.now() - started;
    expect(coldStartMs).toBeGreaterThan(0);

    for (const p of [a, b]) {
      const health = await new HttpClient(p.url).get('/health');
      expect(health.status).toBe(200);
      expect(health.json.status).toBe('healthy');
    }
    // Users live in each instance's own database.
    await new HttpClient(a.url).login('dr.a', 'first-password-123');
    expect((await new HttpClient(b.url).post('/api/auth/login', { username: 'dr.a', password: 'first-password-123' })).status).toBe(401);

    // The CLI works against a running instance too (it adopts the running database).
    const add2 = await runCli(['users', 'add', '--username', 'rev.b', '--role', 'reviewer', '--password-stdin'], { DATA_DIR: dirB }, 'second-password-456');
    expect(add2.code).toBe(0);
    await new HttpClient(b.url).login('rev.b', 'second-password-456');
    const list = await runCli(['users', 'list', '--json'], { DATA_DIR: dirB });
    expect(JSON.parse(list.stdout).map((u: { username: string }) => u.username)).toEqual(['rev.b']);
    expect(postgresRunningOn(dirB)).toBe(true); // the CLI left the service's database alone

    const stopStarted = Date.now();
    expect(await a.stop('SIGTERM')).toBe(0);
    expect(await b.stop('SIGTERM')).toBe(0);
    expect(Date.now() - stopStarted).toBeLessThan(25_000);
    expect(a.lines.some((l) => l.includes('"shutdown_complete"'))).toBe(true);
    expect(postgresRunningOn(dirA)).toBe(false);
    expect(postgresRunningOn(dirB)).toBe(false);

    // A warm restart reuses the data: the user is still there.
    const again = await spawnService({ DATA_DIR: dirA });
    procs.push(again);
    await new HttpClient(again.url).login('dr.a', 'first-password-123');
    expect(await again.stop()).toBe(0);
  });

  it('recovers after being killed with SIGKILL: the orphaned database is adopted, then stopped', async () => {
    const dir = dataDir();
    const first = await spawnService({ DATA_DIR: dir });
    procs.push(first);
    await first.stop('SIGKILL');
    expect(postgresRunningOn(dir)).toBe(true);
    const second = await spawnService({ DATA_DIR: dir });
    procs.push(second);
    expect(second.lines.some((l) => l.includes('embedded_postgres_adopted'))).toBe(true);
    expect((await new HttpClient(second.url).get('/health')).status).toBe(200);
    expect(await second.stop()).toBe(0);
    expect(postgresRunningOn(dir)).toBe(false);
  });

  it('refuses bad configuration with every problem listed and exit code 1', async () => {
    const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
      import('node:child_process').then(({ spawn }) => {
        const p = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
          env: { ...process.env, PORT: 'abc', TRANSCRIBE_ENGINE: 'nope' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr.on('data', (d: Buffer) => (out += d.toString()));
        p.on('exit', (code) => resolve({ code, out }));
      });
    });
    expect(run.code).toBe(1);
    expect(run.out).toMatch(/PORT/);
    expect(run.out).toMatch(/TRANSCRIBE_ENGINE/);
  });
});
