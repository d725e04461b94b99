import type { Role } from '../auth/users.js';
import type { RepairSummary } from '../dictation/repair-repo.js';
import type { EndReasonView } from './end-reason.js';
import type { Token } from './risk/flags.js';

export type TranscriptionStatus = 'recording' | 'completed' | 'failed' | 'in_review' | 'signed';
export const STATUSES: readonly TranscriptionStatus[] = ['recording', 'completed', 'failed', 'in_review', 'signed'];
export const SPECIALTIES = ['PRIMARYCARE', 'CARDIOLOGY', 'NEUROLOGY', 'ONCOLOGY', 'RADIOLOGY', 'UROLOGY'] as const;
export type Specialty = (typeof SPECIALTIES)[number];
export type SegmentKind = 'final' | 'gap' | 'provisional';

/** Who is asking: enough of a user to decide visibility. */
export interface Viewer {
  id: string;
  role: Role;
}

export interface ClinicianRef {
  id: string;
  username: string;
}

/** One row of the list (API.md), extended with specialty, type and a search snippet. */
export interface TranscriptionSummary {
  id: string;
  title: string;
  status: TranscriptionStatus;
  specialty: Specialty;
  type: 'CONVERSATION' | 'DICTATION';
  clinician: ClinicianRef;
  createdAt: string;
  durationMs: number | null;
  /** Why it ended (null while recording): see `endReasonOf`. */
  endReason: EndReasonView | null;
  /** Present only for a search: the best matching passage, split into plain and matched parts. */
  snippet?: Array<{ text: string; match: boolean }>;
  /** Where the snippet's segment starts, so a click can seek there. */
  snippetStartMs?: number;
}

export interface Segment {
  id: string;
  startMs: number;
  endMs: number;
  text: string;
  /** What the engine produced; never changes (API.md, "Review"). */
  machineText: string;
  speaker: string | null;
  kind: SegmentKind;
  engine: string;
  /** The current text word by word, with review flags and, while unedited, the engine's timing and confidence. */
  tokens?: Token[];
  /** How many tokens carry a flag. */
  flagged?: number;
}

export interface RecordingInfo {
  available: boolean;
  contentType: string | null;
  bytes: number | null;
}

/** The detail view (API.md), extended with segment kind/engine and the failure reason. */
export interface TranscriptionDetail {
  id: string;
  title: string;
  status: TranscriptionStatus;
  specialty: Specialty;
  type: 'CONVERSATION' | 'DICTATION';
  engine: string;
  clinician: ClinicianRef;
  createdAt: string;
  endedAt: string | null;
  durationMs: number | null;
  endReason: EndReasonView | null;
  failureReason: string | null;
  recording: RecordingInfo;
  /** Raised by every change (edit, speaker rename); an edit names the version it was made on. */
  version: number;
  /** Present once signed: who signed which version, and when. */
  signature: Signature | null;
  segments: Segment[];
  /** Present when the repair pass had stretches to re-transcribe (docs/resilience.md). */
  repair?: RepairSummary;
}

export interface Signature {
  signedBy: ClinicianRef;
  signedAt: string;
  version: number;
}

export interface ListFilters {
  q?: string;
  clinicianId?: string;
  from?: Date;
  /** Exclusive upper bound. */
  to?: Date;
  specialty?: Specialty;
  status?: TranscriptionStatus;
  limit: number;
  cursor?: { createdAt: string; id: string };
}
