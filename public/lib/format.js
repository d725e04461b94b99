// Formatters shared by the pages, so a time, a date, a speaker or a specialty reads the same everywhere.

/** 0:07, 12:30, 1:02:03 (audio position or duration); an em dash when unknown. */
export function fmtClock(ms) {
  if (ms === null || ms === undefined) return '—';
  const s = Math.floor(ms / 1000);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export const fmtDate = (iso) => (iso ? dateFmt.format(new Date(iso)) : '—');
// The audit log needs seconds to order events that happen within a minute.
const secondsFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
export const fmtDateSeconds = (iso) => (iso ? secondsFmt.format(new Date(iso)) : '—');

/** Seconds with one decimal, for audio the browser holds ("4.2 s"). */
export const fmtSeconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

/** Engines label speakers `spk_0`, `spk_1`…; people read "Speaker 1", "Speaker 2"… everywhere. */
export function speakerName(label) {
  if (!label) return '';
  const m = /^spk_(\d+)$/.exec(label);
  return m ? `Speaker ${Number(m[1]) + 1}` : label;
}

export const SPECIALTIES = [
  ['PRIMARYCARE', 'Primary care'],
  ['CARDIOLOGY', 'Cardiology'],
  ['NEUROLOGY', 'Neurology'],
  ['ONCOLOGY', 'Oncology'],
  ['RADIOLOGY', 'Radiology'],
  ['UROLOGY', 'Urology'],
];
export const specialtyName = (code) => Object.fromEntries(SPECIALTIES)[code] ?? code;

/** Fills a <select> with the specialty list (after any options already in it, e.g. "Any"). */
export function fillSpecialties(select) {
  for (const [value, label] of SPECIALTIES) {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = label;
    select.append(o);
  }
}
