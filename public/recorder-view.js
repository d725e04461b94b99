// @ts-check
// What the recording page shows: the control bar (button, badge, timer, connection), the one message
// line, the inline login, and the live transcript. recorder.js owns the session and its audio ledger
// and calls these; nothing here talks to the server.
import { api } from './lib/api.js';
import { $, h, setBusy } from './lib/dom.js';
import { fmtClock, speakerName } from './lib/format.js';

/** @typedef {import('../src/realtime/events.js').ServerToClientEvents} ServerToClientEvents */
/** @typedef {Parameters<ServerToClientEvents['transcript:final']>[0]} FinalLine a confirmed line as the server sends it */
/** @typedef {Parameters<ServerToClientEvents['transcript:partial']>[0]} PartialLine a provisional line */
/** @typedef {'idle' | 'starting' | 'recording' | 'saving'} ButtonMode */

const BASE_TITLE = document.title;

// ---- control bar ------------------------------------------------------------------------------------
/**
 * The record button: `idle` (● Record), `starting`, `recording` (■ Stop), `saving`. The busy states
 * keep focus on the button (aria-disabled, never `disabled`) so a keyboard user stays on the control.
 * @param {ButtonMode} mode
 */
export function setButton(mode) {
  const b = $('record');
  b.dataset.mode = mode;
  b.textContent = { idle: '● Record', starting: 'Starting…', recording: '■ Stop', saving: 'Saving…' }[mode];
  b.setAttribute('aria-pressed', String(mode === 'recording' || mode === 'saving'));
  setBusy(b, mode === 'starting' || mode === 'saving');
  $('title', HTMLInputElement).disabled = mode !== 'idle';
  for (const id of ['specialty', 'type']) $(id, HTMLSelectElement).disabled = mode !== 'idle';
  const live = mode === 'recording' || mode === 'saving';
  $('rec-badge').hidden = !live;
  document.body.classList.toggle('is-recording', live);
  if (!live) document.title = BASE_TITLE;
}

/**
 * The recorded time (audio captured, the same clock the server saves), in the bar and tab title.
 * @param {number} ms
 * @param {boolean} recording
 */
export function setElapsed(ms, recording) {
  const text = fmtClock(ms).padStart(5, '0');
  $('elapsed').textContent = text;
  if (recording) document.title = `● ${text} Recording · arogya-live`;
}

/**
 * The connection line: one state, one text.
 * @param {'connected' | 'reconnecting' | 'offline' | 'signed-out'} state
 * @param {string} text
 */
export function setConnection(state, text) {
  const el = $('connection');
  if (el.dataset.state === state && el.textContent === text) return; // no re-announcement
  el.dataset.state = state;
  el.textContent = text;
}

/** @param {number} dbfs */
export function setLevel(dbfs) {
  $('level', HTMLMeterElement).value = Math.max(-60, Math.min(0, dbfs));
}

// ---- messages -----------------------------------------------------------------------------------------
/**
 * The one message line under the bar.
 * @param {'ok' | 'warn' | 'error'} kind
 * @param {string} text
 */
export function showMessage(kind, text) {
  const el = $('message');
  el.className = `message ${kind}`;
  if (el.textContent !== text) el.textContent = text;
  el.hidden = false;
}
export function hideMessage() {
  $('message').hidden = true;
  $('message').textContent = '';
}
export const messageKind = () => (!$('message').hidden ? $('message').className.replace('message ', '') : null);

/**
 * Saved: what was saved, how long, and the way to the transcript.
 * @param {number | null} durationMs null when the page does not know it (the server ended the session)
 * @param {string} transcriptionId
 */
export function showSaved(durationMs, transcriptionId) {
  const saved = $('saved');
  const what = durationMs === null ? 'Saved: the audio the server received and its transcript. ' : `Saved: ${fmtClock(durationMs)} of audio and its transcript. `;
  saved.replaceChildren(what, h('a', { text: 'Open the transcript', attrs: { href: `/review.html#/t/${transcriptionId}` } }));
  saved.hidden = false;
}
export function hideSaved() {
  $('saved').hidden = true;
}

// ---- the user's other live sessions ---------------------------------------------------------------
/**
 * Lists `sessions` with a Stop button each; `onStop(session, button)` saves one.
 * @param {import('../src/realtime/events.js').LiveSessionInfo[]} sessions
 * @param {(session: import('../src/realtime/events.js').LiveSessionInfo, button: HTMLButtonElement) => void} onStop
 */
export function showLiveSessions(sessions, onStop) {
  const list = $('live-list');
  list.replaceChildren(
    ...sessions.map((s) => {
      const started = new Date(s.startedAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      const button = h('button', { class: 'secondary', text: 'Stop and save', attrs: { type: 'button', 'aria-label': `Stop and save the recording started at ${started}` } });
      button.addEventListener('click', () => onStop(s, button));
      return h(
        'li',
        {},
        h('span', { text: `Started ${started} · ${fmtClock(s.durationMs)} recorded · ${s.connected ? 'open in another tab or device' : 'no page connected'}` }),
        button,
      );
    }),
  );
  $('live-sessions').hidden = sessions.length === 0;
}

// ---- inline login (signed out during a recording) -----------------------------------------------------
/** @param {string} text what the browser holds and what logging in does */
export function showRelogin(text) {
  const panel = $('relogin');
  $('relogin-text').textContent = text;
  if (panel.hidden) {
    panel.hidden = false;
    $('relogin-username').focus();
  }
}
/** @param {string} text */
export function updateRelogin(text) {
  if (!$('relogin').hidden) $('relogin-text').textContent = text;
}
export function hideRelogin() {
  $('relogin').hidden = true;
}

// ---- live transcript ----------------------------------------------------------------------------------
/** @type {Map<string, HTMLElement>} segmentId → element */
const partials = new Map();
let follow = true; // keep the newest line in view until the reader scrolls away
/**
 * Where keepLive last scrolled to: a scroll event that finds the page there is the page's own. (A
 * flag cleared on the next animation frame instead lost the reader's scroll when it landed in the
 * same frame as a new line: test/e2e/recorder-live-view.test.ts failed 1 run in 2 on the phone.)
 */
let ownScrollY = -1;

export function clearTranscript() {
  $('transcript').replaceChildren();
  $('announcer').replaceChildren();
  partials.clear();
  follow = true;
  $('jump-live').hidden = true;
}

/**
 * @param {Pick<FinalLine, 'segmentId' | 'startMs' | 'text'> & { speaker?: string | null }} p
 * @param {boolean} partial
 */
function segmentElement(p, partial) {
  const el = h('p', { class: partial ? 'segment partial' : 'segment final', attrs: { 'data-segment-id': p.segmentId } });
  el.append(h('span', { class: 'time', text: fmtClock(p.startMs) }));
  if (p.speaker) el.append(h('span', { class: 'speaker', text: speakerName(p.speaker) }));
  // Provisional text is labelled in words, for sight and for screen readers, not by grey italics only.
  if (partial) el.append(h('span', { class: 'tag', text: 'listening…', attrs: { 'aria-label': 'Provisional, may still change:' } }));
  el.append(document.createTextNode(p.text));
  return el;
}

/** @param {PartialLine} p */
export function showPartial(p) {
  const el = segmentElement(p, true);
  const old = partials.get(p.segmentId);
  if (old) old.replaceWith(el);
  else $('transcript').append(el);
  partials.set(p.segmentId, el);
  keepLive();
}

/** @param {FinalLine} p */
export function showFinal(p) {
  const el = segmentElement(p, false);
  const old = partials.get(p.segmentId) ?? $('transcript').querySelector(`[data-segment-id="${CSS.escape(p.segmentId)}"]`);
  if (old) old.replaceWith(el);
  else $('transcript').append(el);
  partials.delete(p.segmentId);
  // Only confirmed lines are announced (the transcript itself is not a live region: partials rewrite
  // it several times a second).
  $('announcer').append(h('p', { text: `${p.speaker ? `${speakerName(p.speaker)}: ` : ''}${p.text}` }));
  while ($('announcer').childElementCount > 5) $('announcer').firstElementChild?.remove();
  keepLive();
}

function keepLive() {
  const last = $('transcript').lastElementChild;
  if (!last) return;
  if (follow) {
    last.scrollIntoView({ block: 'end' }); // instant (no smooth scrolling in styles.css): scrollY is final
    ownScrollY = window.scrollY;
  } else $('jump-live').hidden = false;
}

window.addEventListener(
  'scroll',
  () => {
    if (window.scrollY === ownScrollY) return;
    const gap = document.documentElement.scrollHeight - (window.scrollY + window.innerHeight);
    follow = gap < 80;
    if (follow) $('jump-live').hidden = true;
  },
  { passive: true },
);
$('jump-live').addEventListener('click', () => {
  follow = true;
  $('jump-live').hidden = true;
  keepLive();
});

/**
 * After a reload: the lines the server already stored for this session, so the page starts whole.
 * @param {string} transcriptionId
 */
export async function showEarlierLines(transcriptionId) {
  const t = /** @type {Pick<import('../src/transcripts/types.js').TranscriptionDetail, 'segments'> | null} */ (
    await api('GET', `/api/transcriptions/${transcriptionId}`).catch(() => null)
  );
  clearTranscript();
  for (const s of t?.segments ?? []) {
    if (s.kind === 'gap') continue;
    if (!$('transcript').querySelector(`[data-segment-id="${CSS.escape(s.id)}"]`)) {
      $('transcript').append(segmentElement({ segmentId: s.id, startMs: s.startMs, text: s.text, speaker: s.speaker }, s.kind === 'provisional'));
    }
  }
}
