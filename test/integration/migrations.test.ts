import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, migrationFiles, migrationStatus } from '../../src/db/migrations.js';
import { createLogger } from '../../src/lib/logger.js';
import { createTestDatabase } from '../support/db.js';
import { LogCapture } from '../support/log-capture.js';

const logger = createLogger({ level: 'silent' }, new LogCapture());
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function freshDb() {
  const db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: 6 });
  cleanups.push(db.drop, () => pool.end());
  return { pool, url: db.url };
}

describe('migrations', () => {
  it('applies every migration once when several tasks start at the same moment', async () => {
    const { pool } = await freshDb();
    const clients = await Promise.all([1, 2, 3, 4].map(() => pool.connect()));
    try {
      const results = await Promise.all(clients.map((c) => migrate(c, logger, 'up')));
      const applied = results.flat();
      expect(applied.sort()).toEqual(migrationFiles().sort()); // each ran exactly once, in total
      expect(results.filter((r) => r.length > 0)).toHaveLength(1);
    } finally {
      for (const c of clients) c.release();
    }
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM pgmigrations');
    expect(rows[0].n).toBe(migrationFiles().length);
    expect(await migrationStatus(pool)).toEqual({ status: 'up_to_date', applied: migrationFiles().length, pending: 0 });
  });

  it('reports pending migrations before they run and migrates down and up again', async () => {
    const { pool } = await freshDb();
    expect(await migrationStatus(pool)).toMatchObject({ status: 'pending', applied: 0, pending: migrationFiles().length });
    const client = await pool.connect();
    try {
      await migrate(client, logger, 'up');
      const down = await migrate(client, logger, 'down');
      expect(down).toEqual([migrationFiles().at(-1)]);
      expect((await migrationStatus(pool)).pending).toBe(1);
      await migrate(client, logger, 'down', Infinity);
      const { rows } = await client.query("SELECT to_regclass('public.users') AS t");
      expect(rows[0].t).toBeNull();
      await migrate(client, logger, 'up');
    } finally {
      client.release();
    }
    expect((await migrationStatus(pool)).status).toBe('up_to_date');
  });

  it('makes the audit log append-only for the application role', async () => {
    const { pool } = await freshDb();
    const client = await pool.connect();
    try {
      await migrate(client, logger, 'up');
    } finally {
      client.release();
    }
    await pool.query("INSERT INTO audit_log (action) VALUES ('test.event')");
    await expect(pool.query("UPDATE audit_log SET action = 'rewritten'")).rejects.toThrow(/append-only/);
    await expect(pool.query('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
    await expect(pool.query('TRUNCATE audit_log')).rejects.toThrow(/append-only/);
    const { rows } = await pool.query('SELECT action FROM audit_log');
    expect(rows).toEqual([{ action: 'test.event' }]);
  });
});

describe('review migrations (issue 16)', () => {
  const FIRST = '1763900016000_transcriptions-version';

  it('are additive and reversible: a transcript stored before them keeps every row through up, down and up again', async () => {
    const { pool } = await freshDb();
    const before = migrationFiles().indexOf(FIRST);
    expect(before).toBeGreaterThan(0);
    const client = await pool.connect();
    try {
      await migrate(client, logger, 'up', before);
      const { rows: u } = await client.query(`INSERT INTO users (username, password_hash, role) VALUES ('dr.old', 'x', 'clinician') RETURNING id`);
      const { rows: tr } = await client.query(
        `INSERT INTO transcriptions (clinician_id, engine, status, audio_encoding) VALUES ($1, 'local', 'completed', 'pcm_s16le') RETURNING id`,
        [u[0].id],
      );
      await client.query(`INSERT INTO transcript_segments (transcription_id, segment_key, start_ms, end_ms, text, engine) VALUES ($1, 'a', 0, 1000, 'two tablets daily', 'local')`, [tr[0].id]);

      await migrate(client, logger, 'up');
      const up = await client.query('SELECT t.version, t.status, s.text, s.machine_text FROM transcriptions t JOIN transcript_segments s ON s.transcription_id = t.id');
      expect(up.rows).toEqual([{ version: 1, status: 'completed', text: 'two tablets daily', machine_text: 'two tablets daily' }]);
      // A signed transcript going down becomes `completed` again, its text kept.
      await client.query(`UPDATE transcriptions SET status = 'signed'`);

      const later = migrationFiles().length - before;
      expect(await migrate(client, logger, 'down', later)).toHaveLength(later);
      const down = await client.query('SELECT t.status, s.text FROM transcriptions t JOIN transcript_segments s ON s.transcription_id = t.id');
      expect(down.rows).toEqual([{ status: 'completed', text: 'two tablets daily' }]);
      const { rows: gone } = await client.query("SELECT to_regclass('public.transcript_edits') AS t");
      expect(gone[0].t).toBeNull();

      await migrate(client, logger, 'up');
      const again = await client.query('SELECT version, status FROM transcriptions');
      expect(again.rows).toEqual([{ version: 1, status: 'completed' }]);
    } finally {
      client.release();
    }
  });

  it('makes the edit history append-only', async () => {
    const { pool } = await freshDb();
    const client = await pool.connect();
    try {
      await migrate(client, logger, 'up');
    } finally {
      client.release();
    }
    const { rows: u } = await pool.query(`INSERT INTO users (username, password_hash, role) VALUES ('rev.a', 'x', 'reviewer') RETURNING id`);
    const { rows: tr } = await pool.query(
      `INSERT INTO transcriptions (clinician_id, engine, status, audio_encoding) VALUES ($1, 'local', 'completed', 'pcm_s16le') RETURNING id`,
      [u[0].id],
    );
    await pool.query(`INSERT INTO transcript_edits (transcription_id, version, actor_username, field, before, after) VALUES ($1, 2, 'rev.a', 'text', 'a', 'b')`, [tr[0].id]);
    await expect(pool.query(`UPDATE transcript_edits SET after = 'c'`)).rejects.toThrow(/append-only/);
    await expect(pool.query('TRUNCATE transcript_edits')).rejects.toThrow(/append-only/);
  });
});
