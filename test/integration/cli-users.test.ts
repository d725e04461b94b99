import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { createTestDatabase } from '../support/db.js';
import { HttpClient } from '../support/http.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

let t: TestService;
let env: Record<string, string>;
beforeAll(async () => {
  const db = await createTestDatabase();
  t = await startTestService({}, {}, db);
  env = { DATABASE_URL: db.url, LOG_LEVEL: 'warn' };
});
afterAll(() => t?.close());

async function cli(args: string[], stdin = '') {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await runCli(args, { stdin: Readable.from([stdin]), stdout, stderr, env });
  return { code, out, err };
}

describe('arogya-live users', () => {
  it('adds, lists, disables, enables, re-passwords and re-roles a user, each audited', async () => {
    expect(await cli(['users', 'add', '--username', 'Dr.Mehta', '--role', 'clinician', '--password-stdin'], 'first-password-1\n')).toMatchObject({
      code: 0,
      out: expect.stringMatching(/Added clinician dr\.mehta/),
    });
    await new HttpClient(t.url).login('dr.mehta', 'first-password-1');

    const list = await cli(['users', 'list', '--json']);
    expect(JSON.parse(list.out)).toEqual([expect.objectContaining({ username: 'dr.mehta', role: 'clinician', disabled: false })]);

    expect((await cli(['users', 'disable', '--username', 'dr.mehta'])).code).toBe(0);
    expect((await new HttpClient(t.url).post('/api/auth/login', { username: 'dr.mehta', password: 'first-password-1' })).status).toBe(401);
    expect((await cli(['users', 'enable', '--username', 'dr.mehta'])).code).toBe(0);

    expect((await cli(['users', 'set-password', '--username', 'dr.mehta', '--password-stdin'], 'second-password-2')).code).toBe(0);
    expect((await new HttpClient(t.url).post('/api/auth/login', { username: 'dr.mehta', password: 'first-password-1' })).status).toBe(401);
    await new HttpClient(t.url).login('dr.mehta', 'second-password-2');

    expect(await cli(['users', 'set-role', '--username', 'dr.mehta', '--role', 'reviewer'])).toMatchObject({ code: 0, out: 'dr.mehta is now reviewer\n' });
    const actions = await queryDb<{ action: string }>(t.databaseUrl, "SELECT action FROM audit_log WHERE action LIKE 'user.%' ORDER BY id");
    expect(actions.map((a) => a.action)).toEqual(['user.create', 'user.disable', 'user.enable', 'user.set_password', 'user.set_role']);
    expect(JSON.stringify(await queryDb(t.databaseUrl, 'SELECT * FROM audit_log'))).not.toMatch(/password-[12]/);
  }, 180_000); // six commands, each migrating and hashing: over a minute on a loaded 2-core machine

  it.each([
    [['users', 'add', '--username', 'x1', '--role', 'surgeon', '--password-stdin'], 'long-enough-pass', 2, /--role must be one of/],
    [['users', 'add', '--role', 'clinician', '--password-stdin'], 'long-enough-pass', 2, /Missing --username/],
    [['users', 'add', '--username', 'x2', '--role', 'clinician', '--password', 'on-the-command-line'], '', 2, /Unknown option/],
    [['users', 'add', '--username', 'x3', '--role', 'clinician', '--password-stdin'], 'short', 1, /invalid_payload: Passwords need at least 12/],
    [['users', 'disable', '--username', 'nobody-at-all'], '', 1, /not_found/],
    [['users', 'frobnicate'], '', 2, /Usage/],
    [['nonsense'], '', 2, /Unknown command/],
  ])('refuses %j with exit code %i and a clear message', async (args, stdin, code, message) => {
    const res = await cli(args as string[], stdin as string);
    expect(res.code).toBe(code);
    expect(res.err).toMatch(message as RegExp);
  });

  it('refuses a duplicate username', async () => {
    expect((await cli(['users', 'add', '--username', 'dup.user', '--role', 'admin', '--password-stdin'], 'a-password-123')).code).toBe(0);
    expect(await cli(['users', 'add', '--username', 'DUP.USER', '--role', 'admin', '--password-stdin'], 'a-password-123')).toMatchObject({ code: 1, err: expect.stringMatching(/username_taken/) });
  });

  it('reports migration status', async () => {
    expect(await cli(['migrate', 'status'])).toMatchObject({ code: 0, out: expect.stringMatching(/^up_to_date: \d+ applied, 0 pending/) });
  });
});
