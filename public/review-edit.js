// @ts-check
// Review and correct, on the transcript view of review.html: edit a line's text and speaker, rename a
// speaker everywhere, sign, reopen (admins), and playback keys that work while typing. Kept apart from
// review.js, which calls three functions: initReview() once, showReview(t) after rendering a
// transcript, and onPlaybackTime(ms) on every audio time update.
// Server data goes into the DOM as textContent only (CSP: script-src 'self'; no inline handlers).

import { api, ApiError } from './lib/api.js';
import { $, h } from './lib/dom.js';
import { fmtClock, fmtDate } from './lib/format.js';

/** @typedef {import('../src/transcripts/types.js').TranscriptionDetail & { redacted?: true }} Transcript what GET /api/transcriptions/:id answers */
/** @typedef {import('../src/transcripts/types.js').Segment} Segment */
/** @typedef {import('./lib/login-form.js').User} User */
/** @typedef {import('../src/transcripts/risk/flags.js').WordFlag} WordFlag */

const RATES = [0.5, 0.75, 1, 1.25, 1.5, 2];
const SKIP_S = 5;

/**
 * The transcript on screen: what the edits send (`version`) and what the lines show.
 * @type {{
 *   t: Transcript | null,
 *   me: User | null,
 *   reload: (() => Promise<void>) | null,
 *   render: ((t: Transcript) => void) | null,
 *   flash: ((message: string) => void) | null,
 *   seen: Set<string>,
 * }}
 */
const review = { t: null, me: null, reload: null, render: null, flash: null, seen: new Set() };

/** The transcript the review controls act on (they are hidden while there is none). */
function current() {
  if (!review.t) throw new Error('no transcript on screen');
  return review.t;
}

/** @param {Element} li a line of #t-segments, with its segment's index in data-index */
const segmentOf = (li) => (li instanceof HTMLElement ? current().segments[Number(li.dataset.index)] : undefined);

/** True when a key press belongs to a text field (the playback keys without a modifier stay out of it). */
/** @param {EventTarget | null} target */
function typing(target) {
  return target instanceof Element && (target.closest('input, textarea, select, [contenteditable="true"]') !== null);
}

/**
 * Playback keys (shown on the page): Alt+K play/pause, Alt+J back 5 s, Alt+L forward 5 s, Alt+, slower,
 * Alt+. faster — with Alt they work inside the editor too, and Alt+letter types nothing once handled.
 * Outside text fields the same keys work without Alt (K, J, L, comma, period), as in video players.
 */
/** @param {KeyboardEvent} e */
function playbackKey(e) {
  if ($('transcript-view').hidden) return;
  if (e.ctrlKey || e.metaKey) return;
  if (!e.altKey && typing(e.target)) return;
  const audio = $('t-audio', HTMLAudioElement);
  if (audio.hidden) return;
  /** @type {Record<string, () => unknown>} */
  const actions = {
    KeyK: () => (audio.paused ? audio.play().catch(() => {}) : audio.pause()),
    KeyJ: () => (audio.currentTime = Math.max(0, audio.currentTime - SKIP_S)),
    KeyL: () => (audio.currentTime = Math.min(audio.duration || Infinity, audio.currentTime + SKIP_S)),
    Comma: () => setRate(audio, -1),
    Period: () => setRate(audio, +1),
  };
  const act = actions[e.code];
  if (!act) return;
  e.preventDefault();
  act();
}

/**
 * @param {HTMLAudioElement} audio
 * @param {-1 | 1} step
 */
function setRate(audio, step) {
  const i = RATES.findIndex((r) => r >= audio.playbackRate - 1e-6);
  const next = RATES[Math.min(RATES.length - 1, Math.max(0, (i < 0 ? 2 : i) + step))] ?? 1;
  audio.playbackRate = next;
  $('t-rate').textContent = `Speed ${next}×`;
}

/**
 * Once, at page start. `reload()` fetches the transcript again; `render(t)` shows one; `flash(msg)`
 * shows a status line.
 * @param {{ reload: () => Promise<void>, render: (t: Transcript) => void, flash: (message: string) => void }} hooks
 */
export function initReview({ reload, render, flash }) {
  review.reload = reload;
  review.render = render;
  review.flash = flash;
  document.addEventListener('keydown', playbackKey);
  $('rename-form').addEventListener('submit', (e) => {
    e.preventDefault();
    renameSpeaker().catch((err) => showReviewError(err));
  });
  $('sign-btn').addEventListener('click', () => askToSign());
  $('sign-cancel').addEventListener('click', () => {
    $('sign-confirm').hidden = true;
    $('sign-btn').focus();
  });
  $('sign-yes').addEventListener('click', () => sign().catch((err) => showReviewError(err)));
  $('reveal-form').addEventListener('submit', (e) => {
    e.preventDefault();
    reveal().catch((err) => showReviewError(err));
  });
  $('reopen-form').addEventListener('submit', (e) => {
    e.preventDefault();
    reopen().catch((err) => showReviewError(err));
  });
  $('t-segments').addEventListener('click', (e) => {
    const btn = e.target instanceof Element ? e.target.closest('button.seg-edit') : null;
    const li = btn?.closest('li.seg');
    if (li instanceof HTMLElement) openEditor(li);
  });
}

/**
 * After review.js rendered `t` (its lines are in #t-segments): the review controls for it.
 * @param {Transcript} t
 * @param {User | null} me
 */
export function showReview(t, me) {
  review.t = t;
  review.me = me;
  review.seen = new Set();
  $('review-error').hidden = true;
  $('sign-confirm').hidden = true;
  renderState();
  const editable = canEdit();
  for (const li of $('t-segments').querySelectorAll('li.seg')) {
    const seg = segmentOf(li);
    if (!seg) continue;
    if (seg.text !== seg.machineText) li.classList.add('edited');
    if (seg.tokens?.length) showTokens(li, seg);
    if (editable && seg.kind !== 'gap') {
      li.append(h('button', { class: 'seg-edit secondary', text: 'Edit', attrs: { type: 'button', 'aria-label': `Edit line at ${fmtClock(seg.startMs)}` } }));
    }
  }
}

/** @type {Record<WordFlag, string>} */
const FLAG_TEXT = {
  low_confidence: 'low confidence',
  fallback: 'from the fallback engine',
  dose: 'dose',
  frequency: 'frequency',
  laterality: 'left/right',
  negation: 'negation',
  drug: 'drug name',
};

/**
 * A line's words as spans: flagged ones marked (class and a title saying why), timed ones playable.
 * @param {Element} li
 * @param {Segment} seg
 */
function showTokens(li, seg) {
  const textEl = li.querySelector('.text');
  if (!textEl) return;
  const label = textEl.querySelector('.kind');
  /** @type {Node[]} */
  const parts = [];
  (seg.tokens ?? []).forEach((tk, i) => {
    if (i > 0) parts.push(document.createTextNode(' '));
    if (!tk.flags && tk.startMs === undefined) {
      parts.push(document.createTextNode(tk.text));
      return;
    }
    const classes = ['w', ...(tk.flags ?? []).map((f) => `flag-${f}`)];
    if (tk.flags) classes.push('flagged');
    const why = (tk.flags ?? []).map((f) => FLAG_TEXT[f]).join(', ');
    parts.push(
      h('span', {
        class: classes.join(' '),
        text: tk.text,
        attrs: {
          'data-start-ms': tk.startMs,
          'data-end-ms': tk.endMs,
          title: why ? `Check: ${why}${tk.confidence !== undefined ? ` (confidence ${Math.round(tk.confidence * 100)}%)` : ''}` : undefined,
        },
      }),
    );
  });
  textEl.replaceChildren(...(label ? [label] : []), ...parts);
}

/**
 * Called on every audio time update by review.js: the word being played, inside the current line.
 * @param {number} ms
 */
export function onPlaybackTime(ms) {
  const list = $('t-segments');
  const prev = list.querySelector('span.w.playing');
  if (prev && !(prev instanceof HTMLElement)) return;
  if (prev && Number(prev.dataset.startMs) <= ms && ms < Number(prev.dataset.endMs)) return;
  prev?.classList.remove('playing');
  const li = list.querySelector('li.current');
  if (!li) return;
  for (const w of li.querySelectorAll('span.w[data-start-ms]')) {
    if (!(w instanceof HTMLElement)) continue;
    if (Number(w.dataset.startMs) <= ms && ms < Number(w.dataset.endMs)) {
      w.classList.add('playing');
      return;
    }
  }
}

function canEdit() {
  const t = review.t;
  return Boolean(t) && !t?.redacted && t?.status !== 'signed' && t?.status !== 'recording';
}

function renderState() {
  const t = current();
  const line = $('t-version');
  line.replaceChildren();
  if (t.signature) {
    line.append(
      h('strong', { text: 'Signed' }),
      document.createTextNode(` by ${t.signature.signedBy.username} on ${fmtDate(t.signature.signedAt)}, version ${t.signature.version}. Read-only.`),
    );
  } else {
    line.textContent = `Version ${t.version} · ${t.status === 'in_review' ? 'In review' : t.status === 'completed' ? 'Not yet reviewed' : t.status}`;
  }
  const editable = canEdit();
  $('rename-form').hidden = !editable;
  $('sign-btn').hidden = !editable;
  $('reopen-form').hidden = !(t.status === 'signed' && review.me?.role === 'admin');
  // A redacted view (the admin set this reviewer so) is read-only here: reveal first, with a reason.
  $('reveal-form').hidden = !t.redacted;
  if (t.redacted) {
    $('rename-form').hidden = true;
    $('sign-btn').hidden = true;
  }
  const speakers = [...new Set(t.segments.flatMap((s) => (s.speaker ? [s.speaker] : [])))].sort();
  $('rename-from').replaceChildren(...speakers.map((s) => h('option', { text: s, attrs: { value: s } })));
  const renameButton = $('rename-form').querySelector('button');
  if (renameButton) renameButton.disabled = speakers.length === 0;
}

/** @param {unknown} err */
function showReviewError(err) {
  const el = $('review-error');
  const code = err instanceof ApiError ? err.code : undefined;
  el.textContent =
    code === 'edit_conflict'
      ? 'Someone else changed this transcript. It has been reloaded: make your change again on the current text.'
      : err instanceof Error ? err.message : String(err);
  el.hidden = false;
  if (code === 'edit_conflict' || code === 'transcript_signed') void review.reload?.();
}

const send = api;

// ---------- editing one line ----------
/** @param {HTMLElement} li */
function openEditor(li) {
  if (li.classList.contains('editing') || !canEdit()) return;
  const seg = segmentOf(li);
  if (!seg) return;
  const at = fmtClock(seg.startMs);
  const speaker = h('input', { class: 'ed-speaker', attrs: { type: 'text', maxlength: 40, 'aria-label': `Speaker of the line at ${at}` } });
  speaker.value = seg.speaker ?? '';
  const text = h('textarea', { class: 'ed-text', attrs: { rows: 2, maxlength: 10000, 'aria-label': `Text of the line at ${at}` } });
  text.value = seg.text;
  const form = h(
    'form',
    { class: 'seg-editor' },
    speaker,
    text,
    h('span', { class: 'ed-actions' }, h('button', { text: 'Save', attrs: { type: 'submit' } }), h('button', { class: 'secondary ed-cancel', text: 'Cancel', attrs: { type: 'button' } })),
    h('span', { class: 'hint', text: 'Enter saves, Shift+Enter new line, Esc cancels; Alt+K play/pause.' }),
  );
  li.classList.add('editing');
  li.append(form);
  review.seen.add(seg.id);
  const close = () => {
    form.remove();
    li.classList.remove('editing');
    const edit = li.querySelector('button.seg-edit');
    if (edit instanceof HTMLButtonElement) edit.focus();
  };
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.altKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      close();
    }
  });
  form.querySelector('.ed-cancel')?.addEventListener('click', close);
  // Clicks inside the editor must not seek (review.js seeks on a click anywhere on a line).
  form.addEventListener('click', (e) => e.stopPropagation());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const t = current();
    /** @type {{ version: number, text?: string, speaker?: string }} */
    const change = { version: t.version };
    if (text.value.trim() !== seg.text) change.text = text.value;
    const sp = speaker.value.trim();
    if (sp && sp !== (seg.speaker ?? '')) change.speaker = sp;
    if (change.text === undefined && change.speaker === undefined) return close();
    try {
      const res = /** @type {{ segment: Segment, version: number }} */ (await send('PATCH', `/api/transcriptions/${t.id}/segments/${seg.id}`, change));
      Object.assign(seg, res.segment);
      t.version = res.version;
      if (t.status === 'completed') t.status = 'in_review';
      setLine(li, seg);
      renderState();
      close();
      review.flash?.(`Saved (version ${res.version}).`);
    } catch (err) {
      showReviewError(err);
    }
  });
  text.focus();
  text.setSelectionRange(text.value.length, text.value.length);
}

/**
 * Puts a line's current speaker and text on screen (the kind label stays).
 * @param {Element} li
 * @param {Segment} seg
 */
function setLine(li, seg) {
  const speakerEl = li.querySelector('.speaker');
  if (speakerEl) speakerEl.textContent = seg.speaker ?? '';
  li.classList.toggle('edited', seg.text !== seg.machineText);
  // The server's tokens describe the text they were made for; an edited line shows its plain text.
  if (seg.tokens?.map((tk) => tk.text).join(' ') === seg.text.split(/\s+/).filter(Boolean).join(' ')) return showTokens(li, seg);
  const textEl = li.querySelector('.text');
  const label = textEl?.querySelector('.kind');
  textEl?.replaceChildren(...(label ? [label] : []), document.createTextNode(seg.text));
  li.classList.toggle('edited', seg.text !== seg.machineText);
}

// ---------- speakers, sign, reopen ----------
async function renameSpeaker() {
  const from = $('rename-from', HTMLSelectElement).value;
  const to = $('rename-to', HTMLInputElement).value.trim();
  if (!from || !to) return;
  const t = current();
  const res = /** @type {{ version: number, segments: number }} */ (await send('POST', `/api/transcriptions/${t.id}/speakers`, { from, to, version: t.version }));
  t.version = res.version;
  for (const li of $('t-segments').querySelectorAll('li.seg')) {
    const seg = segmentOf(li);
    if (seg?.speaker === from) {
      seg.speaker = to;
      setLine(li, seg);
    }
  }
  if (res.segments > 0 && t.status === 'completed') t.status = 'in_review';
  $('rename-to', HTMLInputElement).value = '';
  renderState();
  review.flash?.(`Renamed “${from}” to “${to}” in ${res.segments} line${res.segments === 1 ? '' : 's'}.`);
}

/** Flagged words (low confidence, fallback engine, risky terms) in lines the reviewer never opened or played. */
function unreviewedFlags() {
  let n = 0;
  for (const seg of current().segments) if (!review.seen.has(seg.id)) n += seg.flagged ?? 0;
  return n;
}

function askToSign() {
  const n = unreviewedFlags();
  $('sign-question').textContent =
    n > 0
      ? `${n} flagged word${n === 1 ? ' was' : 's were'} never looked at (not opened or played). Sign version ${current().version} anyway?`
      : `Sign version ${current().version}? The transcript becomes read-only.`;
  $('sign-confirm').hidden = false;
  $('sign-yes').focus();
}

async function sign() {
  const t = current();
  const res = /** @type {{ version: number }} */ (await send('POST', `/api/transcriptions/${t.id}/sign`, { version: t.version, unreviewedFlags: unreviewedFlags() }));
  $('sign-confirm').hidden = true;
  review.flash?.(`Signed version ${res.version}.`);
  await review.reload?.();
}

/** Shows the unredacted transcript; the reason is audited server-side. */
async function reveal() {
  const reason = $('reveal-reason', HTMLInputElement).value.trim();
  const t = /** @type {Transcript} */ (await send('POST', `/api/transcriptions/${current().id}/reveal`, { reason }));
  $('reveal-reason', HTMLInputElement).value = '';
  review.render?.(t);
  review.flash?.('Shown in full; the reason is in the audit log.');
}

async function reopen() {
  const reason = $('reopen-reason', HTMLInputElement).value.trim();
  await send('POST', `/api/transcriptions/${current().id}/reopen`, { reason });
  $('reopen-reason', HTMLInputElement).value = '';
  review.flash?.('Reopened for review.');
  await review.reload?.();
}

/**
 * Marks a line as looked at when it plays (used for the sign-off count).
 * @param {number} index
 */
export function markSeen(index) {
  const seg = review.t?.segments[index];
  if (seg) review.seen.add(seg.id);
}
