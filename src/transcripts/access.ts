import type { Viewer } from './types.js';

/**
 * The one visibility rule (API.md): a clinician sees only their own transcriptions; reviewers and
 * admins see all. Everything else is answered as if it did not exist (404), never 403.
 */
export function canSee(viewer: Viewer, transcription: { clinicianId: string }): boolean {
  if (viewer.role === 'reviewer' || viewer.role === 'admin') return true;
  return viewer.role === 'clinician' && transcription.clinicianId === viewer.id;
}

/** True when the viewer's list must be restricted to their own rows. */
export function ownRowsOnly(viewer: Viewer): boolean {
  return !(viewer.role === 'reviewer' || viewer.role === 'admin');
}
