import type { Pool } from '../db/pool.js';
import { AppError } from '../lib/app-error.js';
import type { Specialty, VocabularyTerm } from '../transcription/port.js';
import { SPECIALTIES } from '../transcripts/types.js';

/** The state of Transcribe's copy of a vocabulary (its VocabularyState). */
export type EngineVocabularyState = 'PENDING' | 'READY' | 'FAILED';

/** One specialty's custom vocabulary (docs/review.md, "Custom vocabulary"). */
export interface SpecialtyVocabulary {
  specialty: Specialty;
  terms: VocabularyTerm[];
  /** 0 before the first save; every save raises it by one. */
  version: number;
  updatedAt: Date | null;
  updatedBy: string | null;
  /** Transcribe's copy (engine `aws`), once one was asked for. */
  engine: { name: string; version: number; state: EngineVocabularyState; failure: string | null; checkedAt: Date | null } | null;
}

interface Row {
  specialty: Specialty;
  terms: VocabularyTerm[];
  version: number;
  updated_at: Date;
  updated_by: string | null;
  engine_name: string | null;
  engine_version: number | null;
  engine_state: EngineVocabularyState | null;
  engine_failure: string | null;
  engine_checked_at: Date | null;
}

const empty = (specialty: Specialty): SpecialtyVocabulary => ({ specialty, terms: [], version: 0, updatedAt: null, updatedBy: null, engine: null });
const fromRow = (r: Row): SpecialtyVocabulary => ({
  specialty: r.specialty,
  terms: r.terms,
  version: r.version,
  updatedAt: r.updated_at,
  updatedBy: r.updated_by,
  engine:
    r.engine_name && r.engine_state
      ? { name: r.engine_name, version: r.engine_version ?? 0, state: r.engine_state, failure: r.engine_failure, checkedAt: r.engine_checked_at }
      : null,
});

/** The `specialty_vocabularies` table. */
export class VocabularyRepository {
  constructor(private readonly db: Pool) {}

  /** Every specialty, with an empty vocabulary (version 0) where none was saved. */
  async list(): Promise<SpecialtyVocabulary[]> {
    const { rows } = await this.db.query<Row>('SELECT * FROM specialty_vocabularies');
    return SPECIALTIES.map((s) => {
      const r = rows.find((x) => x.specialty === s);
      return r ? fromRow(r) : empty(s);
    });
  }

  async get(specialty: Specialty): Promise<SpecialtyVocabulary> {
    const { rows } = await this.db.query<Row>('SELECT * FROM specialty_vocabularies WHERE specialty = $1', [specialty]);
    return rows[0] ? fromRow(rows[0]) : empty(specialty);
  }

  /**
   * Replaces the terms, made on `version` (the one the admin saw). One transaction with the row
   * locked, so two admins saving at once give one success and one conflict, never a lost save.
   * @throws AppError `vocabulary_conflict` (details.version: the current one) when `version` is stale.
   */
  async save(specialty: Specialty, terms: VocabularyTerm[], version: number, userId: string): Promise<SpecialtyVocabulary> {
    const c = await this.db.connect();
    try {
      await c.query('BEGIN');
      const cur = await c.query<{ version: number }>('SELECT version FROM specialty_vocabularies WHERE specialty = $1 FOR UPDATE', [specialty]);
      const current = cur.rows[0]?.version ?? 0;
      if (current !== version) throw new AppError('vocabulary_conflict', undefined, { details: { version: current } });
      const res = cur.rows[0]
        ? await c.query<Row>('UPDATE specialty_vocabularies SET terms = $2, version = version + 1, updated_at = now(), updated_by = $3 WHERE specialty = $1 RETURNING *', [specialty, JSON.stringify(terms), userId])
        : // A concurrent first save inserts too: the loser's insert does nothing and is a conflict.
          await c.query<Row>('INSERT INTO specialty_vocabularies (specialty, terms, version, updated_by) VALUES ($1, $2, 1, $3) ON CONFLICT (specialty) DO NOTHING RETURNING *', [specialty, JSON.stringify(terms), userId]);
      if (!res.rows[0]) throw new AppError('vocabulary_conflict', undefined, { details: { version: 1 } });
      await c.query('COMMIT');
      return fromRow(res.rows[0]);
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }

  /** Records the state of Transcribe's copy (and that it was just checked). */
  async setEngine(specialty: Specialty, e: { name: string; version: number; state: EngineVocabularyState; failure?: string | null }): Promise<void> {
    await this.db.query(
      `UPDATE specialty_vocabularies SET engine_name = $2, engine_version = $3, engine_state = $4, engine_failure = $5, engine_checked_at = now()
        WHERE specialty = $1`,
      [specialty, e.name, e.version, e.state, e.failure ?? null],
    );
  }
}
