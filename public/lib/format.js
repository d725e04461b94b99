// @ts-check
// Formatters shared by the pages, so a time, a date or a speaker reads the same everywhere.

/**
 * 0:07, 12:30, 1:02:03 (audio position or duration); an em dash when unknown.
 * @param {number | null | undefined} ms
 */
export function fmtClock(ms) {
  if (ms === null || ms === undefined) return '—';
  const s = Math.floor(ms / 1000);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export const fmtDate = (/** @type {string | null | undefined} */ iso) => (iso ? dateFmt.format(new Date(iso)) : '—');
// The audit log needs seconds to order events that happen within a minute.
const secondsFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
export const fmtDateSeconds = (/** @type {string | null | undefined} */ iso) => (iso ? secondsFmt.format(new Date(iso)) : '—');

/** Seconds with one decimal, for audio the browser holds ("4.2 s"). */
export const fmtSeconds = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(1)} s`;

/**
 * A configured span in words: "5 minutes", "1 minute", "90 seconds".
 * @param {number} ms
 */
export function fmtSpan(ms) {
  const plural = (/** @type {number} */ n, /** @type {string} */ unit) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  return ms >= 60_000 && ms % 60_000 === 0 ? plural(ms / 60_000, 'minute') : plural(Math.round(ms / 1000), 'second');
}

/**
 * Engines label speakers `spk_0`, `spk_1`…; people read "Speaker 1", "Speaker 2"… everywhere.
 * @param {string | null | undefined} label
 */
export function speakerName(label) {
  if (!label) return '';
  const m = /^spk_(\d+)$/.exec(label);
  return m ? `Speaker ${Number(m[1]) + 1}` : label;
}
