import type { Pool } from '../db/pool.js';
import { repairSummary } from '../dictation/repair-repo.js';
import { ownRowsOnly } from './access.js';
import type { PhiEntity, Word } from '../transcription/port.js';
import type { SegmentEvidence } from './phi/redact-detail.js';
import { encodeCursor } from './cursor.js';
import { endReasonOf } from './end-reason.js';
import { tokenize } from './risk/flags.js';
import type {
  ListFilters,
  Segment,
  SegmentKind,
  Specialty,
  TranscriptionDetail,
  TranscriptionStatus,
  TranscriptionSummary,
  Viewer,
} from './types.js';

// Private-use characters mark matches in ts_headline output; they are stripped from the text first,
// so the page can split the snippet into text nodes without ever parsing HTML.
const MARK_START = '\uE000';
const MARK_END = '\uE001';
const HEADLINE_OPTIONS = `StartSel="${MARK_START}", StopSel="${MARK_END}", MaxWords=24, MinWords=8, ShortWord=2, MaxFragments=1`;
const CREATED_AT_TEXT = `to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const ENDED_AT_TEXT = `to_char(t.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

interface SummaryRow {
  id: string;
  title: string;
  status: TranscriptionStatus;
  specialty: Specialty;
  type: 'CONVERSATION' | 'DICTATION';
  clinician_id: string;
  clinician_username: string;
  created_at: string;
  duration_ms: string | null;
  audio_ms: string;
  end_reason: string | null;
  failure_reason: string | null;
  headline?: string | null;
  headline_start_ms?: string | null;
}

interface DetailRow extends SummaryRow {
  engine: string;
  ended_at: string | null;
  rec_state: string | null;
  rec_content_type: string | null;
  rec_bytes: string | null;
  version: number;
  signed_by: string | null;
  signed_by_username: string | null;
  signed_at: string | null;
  signed_version: number | null;
}

interface SegmentRow {
  id: string;
  start_ms: string;
  end_ms: string;
  text: string;
  machine_text: string;
  speaker: string | null;
  kind: SegmentKind;
  engine: string;
  words: Word[] | null;
}

/** What an access check needs to know about a transcription. */
export interface TranscriptionRef {
  id: string;
  clinicianId: string;
  status: TranscriptionStatus;
}

/**
 * Read side of transcriptions for the reviewer workspace. Every query is parameterised; visibility
 * (clinicians see their own rows only) is applied in SQL for lists and by `canSee` for single rows.
 */
export class TranscriptReadRepository {
  constructor(private readonly db: Pool) {}

  /**
   * Newest first, keyset-paginated on (created_at, id). With `q`, only transcriptions with a segment
   * matching `websearch_to_tsquery('english', q)` (GIN index on transcript_segments.tsv).
   */
  async list(viewer: Viewer, f: ListFilters): Promise<{ items: TranscriptionSummary[]; nextCursor: string | null }> {
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    const where: string[] = [];
    let from = 'transcriptions t JOIN users u ON u.id = t.clinician_id';
    let select = '';
    if (f.q !== undefined) {
      from += ` CROSS JOIN websearch_to_tsquery('english', ${p(f.q)}) AS query`;
      where.push('EXISTS (SELECT 1 FROM transcript_segments s WHERE s.transcription_id = t.id AND s.tsv @@ query)');
      from += ` LEFT JOIN LATERAL (
          SELECT ts_headline('english', translate(s.text, ${p(MARK_START + MARK_END)}, ''), query, ${p(HEADLINE_OPTIONS)}) AS headline,
                 s.start_ms AS headline_start_ms
            FROM transcript_segments s
           WHERE s.transcription_id = t.id AND s.tsv @@ query
           ORDER BY ts_rank(s.tsv, query) DESC, s.start_ms
           LIMIT 1) h ON true`;
      select = ', h.headline, h.headline_start_ms';
    }
    if (ownRowsOnly(viewer)) where.push(`t.clinician_id = ${p(viewer.id)}`);
    if (f.clinicianId) where.push(`t.clinician_id = ${p(f.clinicianId)}`);
    if (f.from) where.push(`t.created_at >= ${p(f.from)}`);
    if (f.to) where.push(`t.created_at < ${p(f.to)}`);
    if (f.specialty) where.push(`t.specialty = ${p(f.specialty)}`);
    if (f.status) where.push(`t.status = ${p(f.status)}`);
    if (f.cursor) where.push(`(t.created_at, t.id) < (${p(f.cursor.createdAt)}::timestamptz, ${p(f.cursor.id)}::uuid)`);
    const sql = `SELECT t.id, t.title, t.status, t.specialty, t.type, t.clinician_id, u.username AS clinician_username,
                        ${CREATED_AT_TEXT} AS created_at, t.duration_ms, t.audio_ms, t.end_reason, t.failure_reason${select}
                   FROM ${from}
                  ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
                  ORDER BY t.created_at DESC, t.id DESC
                  LIMIT ${p(f.limit + 1)}`;
    const { rows } = await this.db.query<SummaryRow>(sql, params);
    const page = rows.slice(0, f.limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toSummary),
      nextCursor: rows.length > f.limit && last ? encodeCursor(last.created_at, last.id) : null,
    };
  }

  /**
   * Clinicians the viewer may filter by: everyone with the clinician role or with a transcription
   * for reviewers and admins; only themselves for a clinician.
   */
  async clinicians(viewer: Viewer): Promise<Array<{ id: string; username: string }>> {
    const { rows } = ownRowsOnly(viewer)
      ? await this.db.query<{ id: string; username: string }>('SELECT id, username FROM users WHERE id = $1', [viewer.id])
      : await this.db.query<{ id: string; username: string }>(
          `SELECT u.id, u.username FROM users u
            WHERE u.role = 'clinician' OR EXISTS (SELECT 1 FROM transcriptions t WHERE t.clinician_id = u.id)
            ORDER BY u.username`,
        );
    return rows;
  }

  /** The row an access decision needs, or undefined. */
  async findRef(id: string): Promise<TranscriptionRef | undefined> {
    const { rows } = await this.db.query<{ id: string; clinician_id: string; status: TranscriptionStatus }>(
      'SELECT id, clinician_id, status FROM transcriptions WHERE id = $1',
      [id],
    );
    const r = rows[0];
    return r && { id: r.id, clinicianId: r.clinician_id, status: r.status };
  }

  /** The engine's words and PHI entities of each segment, for PHI finding and redacted audio. */
  async findEvidence(id: string): Promise<Map<string, SegmentEvidence>> {
    const { rows } = await this.db.query<{ id: string; words: Word[] | null; phi: PhiEntity[] | null }>(
      'SELECT id, words, phi FROM transcript_segments WHERE transcription_id = $1',
      [id],
    );
    return new Map(rows.map((r) => [r.id, { words: r.words, phi: r.phi }]));
  }

  /** Whether an admin set this user to see PHI redacted by default. */
  async redactsPhi(userId: string): Promise<boolean> {
    const { rows } = await this.db.query<{ redact_phi: boolean }>('SELECT redact_phi FROM users WHERE id = $1', [userId]);
    return rows[0]?.redact_phi ?? false;
  }

  /** Sets a user's default view; false when there is no such user. */
  async setRedactsPhi(userId: string, redact: boolean): Promise<boolean> {
    const { rowCount } = await this.db.query('UPDATE users SET redact_phi = $2 WHERE id = $1', [userId, redact]);
    return (rowCount ?? 0) > 0;
  }

  /** The full transcript with its segments in time order, or undefined. */
  async findDetail(id: string): Promise<TranscriptionDetail | undefined> {
    const { rows } = await this.db.query<DetailRow>(
      `SELECT t.id, t.title, t.status, t.specialty, t.type, t.engine, t.clinician_id, u.username AS clinician_username,
              ${CREATED_AT_TEXT} AS created_at, ${ENDED_AT_TEXT} AS ended_at, t.duration_ms, t.audio_ms,
              t.end_reason, t.failure_reason, t.version,
              t.signed_by, su.username AS signed_by_username, t.signed_version,
              to_char(t.signed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS signed_at,
              r.upload_state AS rec_state, r.content_type AS rec_content_type, r.bytes AS rec_bytes
         FROM transcriptions t
         JOIN users u ON u.id = t.clinician_id
         LEFT JOIN users su ON su.id = t.signed_by
         LEFT JOIN LATERAL (SELECT * FROM recordings WHERE transcription_id = t.id ORDER BY part_index DESC LIMIT 1) r ON true
        WHERE t.id = $1`,
      [id],
    );
    const r = rows[0];
    if (!r) return undefined;
    const segs = await this.db.query<SegmentRow>(
      `SELECT id, start_ms, end_ms, text, coalesce(machine_text, text) AS machine_text, speaker, kind, engine, words
         FROM transcript_segments WHERE transcription_id = $1
        ORDER BY start_ms, end_ms, created_at, id`,
      [id],
    );
    const available = r.rec_state === 'completed';
    const summary = toSummary(r);
    const repair = await repairSummary(this.db, id);
    return {
      id: summary.id,
      title: summary.title,
      status: summary.status,
      specialty: summary.specialty,
      type: summary.type,
      engine: r.engine,
      clinician: summary.clinician,
      createdAt: summary.createdAt,
      endedAt: r.ended_at,
      durationMs: summary.durationMs,
      endReason: summary.endReason,
      failureReason: r.failure_reason,
      recording: {
        available,
        contentType: available ? r.rec_content_type : null,
        bytes: available && r.rec_bytes !== null ? Number(r.rec_bytes) : null,
      },
      version: r.version,
      signature:
        r.status === 'signed' && r.signed_by && r.signed_at && r.signed_version !== null
          ? { signedBy: { id: r.signed_by, username: r.signed_by_username ?? '' }, signedAt: r.signed_at, version: r.signed_version }
          : null,
      segments: segs.rows.map((s) => toSegment(s, r.engine)),
      ...(repair ? { repair } : {}),
    };
  }
}

function toSummary(r: SummaryRow): TranscriptionSummary {
  const s: TranscriptionSummary = {
    id: r.id,
    title: r.title,
    status: r.status,
    specialty: r.specialty,
    type: r.type,
    clinician: { id: r.clinician_id, username: r.clinician_username },
    createdAt: r.created_at,
    durationMs: r.duration_ms !== null ? Number(r.duration_ms) : r.status === 'recording' ? Number(r.audio_ms) : null,
    endReason: endReasonOf(r.status, r.end_reason, r.failure_reason),
  };
  if (r.headline != null) {
    s.snippet = splitHeadline(r.headline);
    if (r.headline_start_ms != null) s.snippetStartMs = Number(r.headline_start_ms);
  }
  return s;
}

function toSegment(r: SegmentRow, primaryEngine: string): Segment {
  const { tokens, flagged } = tokenize({ text: r.text, machineText: r.machine_text, words: r.words, fallback: r.engine !== primaryEngine });
  return {
    id: r.id,
    startMs: Number(r.start_ms),
    endMs: Number(r.end_ms),
    text: r.text,
    machineText: r.machine_text,
    speaker: r.speaker,
    kind: r.kind,
    engine: r.engine,
    tokens,
    flagged,
  };
}

/** Splits ts_headline output at the private-use markers into plain and matched parts. */
export function splitHeadline(headline: string): Array<{ text: string; match: boolean }> {
  const parts: Array<{ text: string; match: boolean }> = [];
  let match = false;
  let buf = '';
  for (const ch of headline) {
    if (ch === MARK_START || ch === MARK_END) {
      if (buf) parts.push({ text: buf, match });
      buf = '';
      match = ch === MARK_START;
    } else buf += ch;
  }
  if (buf) parts.push({ text: buf, match });
  return parts;
}
