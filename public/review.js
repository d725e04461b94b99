// @ts-check
// Reviewer workspace: list/search transcriptions, read one with its recording, admin users and audit.
// Plain ES module, no build step. Every piece of server data goes into the DOM as textContent, never
// as HTML; no inline styles or handlers (CSP: script-src 'self'; style-src 'self').

import { initReview, markSeen, onPlaybackTime, showReview } from './review-edit.js';
import { api, apiHooks, ApiError } from './lib/api.js';
import { $, fillOptions, h } from './lib/dom.js';
import { fmtClock, fmtDate, fmtDateSeconds, speakerName } from './lib/format.js';
import { mountLoginForm } from './lib/login-form.js';
import { loadSettings } from './lib/settings.js';
import { SPECIALTIES, specialtyName } from './lib/specialties.js';
import { describeStatus, statusBadge } from './lib/status.js';
import { initVocabulary, loadVocabulary } from './review-vocabulary.js';

/** @typedef {import('./lib/login-form.js').User} User */
/** @typedef {import('./review-edit.js').Transcript} Transcript */
/** @typedef {import('../src/transcripts/types.js').Segment} Segment */
/** @typedef {import('../src/transcripts/types.js').TranscriptionSummary} ListItem */
/** @typedef {import('../src/http/routes/admin.js').PublicUser & { redactPhi?: boolean }} AdminUser */
/** @typedef {import('../src/audit/audit-reader.js').AuditRow} AuditRow */
/** @typedef {{ items: T[], nextCursor: string | null }} Page @template T */

apiHooks.onUnauthenticated = () => showLogin();

/**
 * @type {{
 *   me: User | null, listCursor: string | null, listQuery: string, auditCursor: string | null, auditQuery: string,
 *   currentId: string | null, segments: Segment[], currentIndex: number,
 * }}
 */
const state = { me: null, listCursor: null, listQuery: '', auditCursor: null, auditQuery: '', currentId: null, segments: [], currentIndex: -1 };

/**
 * @param {HTMLElement} el
 * @param {unknown} err
 */
function showError(el, err) {
  el.textContent = err instanceof Error ? err.message : String(err);
  el.hidden = false;
}
/** @type {ReturnType<typeof setTimeout> | undefined} */
let flashTimer;
/** @param {string} message */
function flash(message) {
  const el = $('flash');
  el.textContent = message;
  el.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => (el.hidden = true), 5000);
}
const audioEl = () => $('t-audio', HTMLAudioElement);

// ---------- login ----------
function showLogin() {
  state.me = null;
  // Nothing the previous user saw may stay in the page for the next one.
  const audio = audioEl();
  audio.pause();
  audio.removeAttribute('src');
  audio.load();
  state.currentId = null;
  state.segments = [];
  for (const id of ['list-body', 't-segments', 't-meta', 'users-body', 'audit-body', 'v-terms']) $(id).replaceChildren();
  $('t-title').textContent = '';
  $('search-form', HTMLFormElement).reset();
  $('app').hidden = true;
  $('whoami').hidden = true;
  $('nav').hidden = true;
  $('login-view').hidden = false;
  $('login-username').focus();
}

mountLoginForm($('login-form'), (user) => enter(user));
fillOptions($('f-specialty', HTMLSelectElement), SPECIALTIES);
fillOptions($('v-specialty', HTMLSelectElement), SPECIALTIES);
initVocabulary({ flash });

$('logout').addEventListener('click', async () => {
  await api('POST', '/api/auth/logout').catch(() => {});
  showLogin();
});

/** @param {User} user */
async function enter(user) {
  state.me = user;
  $('login-view').hidden = true;
  $('app').hidden = false;
  $('whoami').hidden = false;
  $('nav').hidden = false;
  $('me-name').textContent = user.username;
  $('me-role').textContent = user.role;
  for (const el of document.querySelectorAll('.admin-only')) if (el instanceof HTMLElement) el.hidden = user.role !== 'admin';
  $('f-clinician-field').hidden = user.role === 'clinician';
  if (user.role !== 'clinician') loadClinicians().catch(() => {});
  await loadSettings();
  await loadList(true);
  await route();
}

async function loadClinicians() {
  const { items } = /** @type {{ items: { id: string, username: string }[] }} */ (await api('GET', '/api/transcriptions/clinicians'));
  const sel = $('f-clinician');
  sel.replaceChildren(h('option', { text: 'Any', attrs: { value: '' } }), ...items.map((c) => h('option', { text: c.username, attrs: { value: c.id } })));
}

// ---------- routing (hash) ----------
async function route() {
  const me = state.me;
  if (!me) return;
  const hash = location.hash || '#/';
  const views = { list: $('list-view'), transcript: $('transcript-view'), users: $('users-view'), vocabulary: $('vocabulary-view'), audit: $('audit-view') };
  const show = (/** @type {keyof typeof views} */ name) => {
    for (const [k, el] of Object.entries(views)) el.hidden = k !== name;
    for (const [tab, view] of /** @type {const} */ ([['tab-list', 'list'], ['tab-users', 'users'], ['tab-vocabulary', 'vocabulary'], ['tab-audit', 'audit']])) {
      if (view === name || (name === 'transcript' && view === 'list')) $(tab).setAttribute('aria-current', 'page');
      else $(tab).removeAttribute('aria-current');
    }
  };
  const m = /^#\/t\/([0-9a-f-]{36})(?:@(\d+))?$/.exec(hash);
  if (m?.[1]) {
    show('transcript');
    await openTranscript(m[1], m[2] ? Number(m[2]) : undefined);
    return;
  }
  audioEl().pause();
  state.currentId = null;
  if (hash === '#/users' && me.role === 'admin') {
    show('users');
    await loadUsers();
  } else if (hash === '#/vocabulary' && me.role === 'admin') {
    show('vocabulary');
    await loadVocabulary();
  } else if (hash === '#/audit' && me.role === 'admin') {
    show('audit');
    loadAuditUsers().catch(() => {});
    await loadAudit(true);
  } else {
    show('list');
  }
}
window.addEventListener('hashchange', () => route().catch((/** @type {unknown} */ e) => flash(e instanceof Error ? e.message : String(e))));

// ---------- list ----------
/**
 * Dates from <input type=date> are local days; the API takes instants, `to` exclusive.
 * @param {string} value `YYYY-MM-DD`
 */
function localDayStart(value, plusDays = 0) {
  const [y = 0, mo = 1, d = 1] = value.split('-').map(Number);
  return new Date(y, mo - 1, d + plusDays).toISOString();
}
/** @param {string} id an <input> or <select> of a filter form */
const fieldValue = (id) => {
  const el = $(id);
  if (!(el instanceof HTMLInputElement || el instanceof HTMLSelectElement)) throw new Error(`#${id} is not a field`);
  return el.value;
};

function listParams() {
  const p = new URLSearchParams();
  const q = fieldValue('f-q').trim();
  if (q) p.set('q', q);
  for (const name of ['clinician', 'specialty', 'status']) {
    const v = fieldValue(`f-${name}`);
    if (v) p.set(name, v);
  }
  if (fieldValue('f-from')) p.set('from', localDayStart(fieldValue('f-from')));
  if (fieldValue('f-to')) p.set('to', localDayStart(fieldValue('f-to'), 1));
  return p;
}

/** @param {boolean} reset a new query (true) or the next page (false) */
async function loadList(reset) {
  const err = $('list-error');
  err.hidden = true;
  if (reset) {
    state.listQuery = listParams().toString();
    state.listCursor = null;
  }
  const p = new URLSearchParams(state.listQuery);
  if (!reset && state.listCursor) p.set('cursor', state.listCursor);
  $('list-table').setAttribute('aria-busy', 'true');
  try {
    const page = /** @type {Page<ListItem>} */ (await api('GET', `/api/transcriptions?${p}`));
    const body = $('list-body');
    if (reset) body.replaceChildren();
    for (const item of page.items) body.append(...listRows(item));
    state.listCursor = page.nextCursor;
    $('load-more').hidden = !page.nextCursor;
    $('list-empty').hidden = body.children.length > 0;
  } catch (e) {
    showError(err, e);
  } finally {
    $('list-table').removeAttribute('aria-busy');
  }
}

/** @param {ListItem} item */
function listRows(item) {
  const link = h('a', { class: 'open', text: item.title || 'Untitled', attrs: { href: `#/t/${item.id}` } });
  const row = h(
    'tr',
    {},
    h('td', { text: fmtDate(item.createdAt), attrs: { 'data-label': 'Date' } }),
    h('td', { attrs: { 'data-label': 'Title' } }, link),
    h('td', { text: item.clinician.username, attrs: { 'data-label': 'Clinician' } }),
    h('td', { text: specialtyName(item.specialty), attrs: { 'data-label': 'Specialty' } }),
    h('td', { text: fmtClock(item.durationMs), attrs: { 'data-label': 'Duration' } }),
    h('td', { attrs: { 'data-label': 'Status' } }, statusBadge(item)),
  );
  if (!item.snippet) return [row];
  // Search hit: the matching passage, matches wrapped in <mark> via text nodes only.
  const snippet = h('a', { class: 'snippet', attrs: { href: `#/t/${item.id}@${item.snippetStartMs ?? 0}` } });
  snippet.append(h('span', { class: 'visually-hidden', text: 'Matching passage: ' }));
  for (const part of item.snippet) snippet.append(part.match ? h('mark', { text: part.text }) : document.createTextNode(part.text));
  const td = h('td', { attrs: { colspan: 6 } }, h('span', { class: 'at', text: fmtClock(item.snippetStartMs) }), snippet);
  return [row, h('tr', { class: 'snippet-row' }, td)];
}

$('search-form').addEventListener('submit', (e) => {
  e.preventDefault();
  loadList(true);
});
// The Clear button (a user action) reloads the unfiltered list; a reset at logout must not.
$('search-form').addEventListener('reset', () => {
  if (state.me) setTimeout(() => loadList(true), 0);
});
$('load-more').addEventListener('click', () => loadList(false));

// ---------- transcript ----------
/**
 * @param {string} id
 * @param {number} [atMs] where to start playing
 */
async function openTranscript(id, atMs) {
  const audio = audioEl();
  if (state.currentId !== id) {
    audio.pause();
    state.currentId = id;
    let t;
    try {
      t = /** @type {Transcript} */ (await api('GET', `/api/transcriptions/${id}`));
    } catch (e) {
      $('t-title').textContent = e instanceof ApiError && e.status === 404 ? 'Transcription not found' : 'Could not load the transcription';
      $('t-meta').replaceChildren();
      $('t-segments').replaceChildren();
      $('t-banner').hidden = true;
      audio.hidden = true;
      $('t-exports').hidden = true;
      return;
    }
    renderTranscript(t);
  }
  $('t-title').focus();
  if (atMs !== undefined) seek(atMs);
}

/** @param {Transcript} t */
function renderTranscript(t) {
  $('t-title').textContent = t.title || 'Untitled';
  const meta = [
    ['Clinician', t.clinician.username],
    ['Recorded', fmtDate(t.createdAt)],
    ['Duration', fmtClock(t.durationMs)],
    ['Specialty', specialtyName(t.specialty)],
    ['Type', t.type === 'DICTATION' ? 'Dictation' : 'Conversation'],
    ['Engine', t.engine],
  ];
  const dl = $('t-meta');
  dl.replaceChildren();
  for (const [k, v] of meta) dl.append(h('div', {}, h('dt', { text: k }), h('dd', { text: v })));
  dl.append(h('div', {}, h('dt', { text: 'Status' }), h('dd', {}, statusBadge(t))));

  const banner = $('t-banner');
  const provisional = t.segments.filter((s) => s.kind === 'provisional').length;
  const gaps = t.segments.filter((s) => s.kind === 'gap').length;
  /** @type {string[]} */
  const notes = [];
  const status = describeStatus(t);
  if (status.sentence) notes.push(status.sentence);
  if (gaps) notes.push(`${gaps} part${gaps > 1 ? 's' : ''} with no audio received ${gaps > 1 ? 'are' : 'is'} marked below.`);
  if (provisional) notes.push(`${provisional} provisional part${provisional > 1 ? 's' : ''} (not confirmed by the engine) ${provisional > 1 ? 'are' : 'is'} marked below.`);
  // Repair pass (docs/resilience.md): stretches re-transcribed from the recording after an engine outage.
  const stretches = t.repair?.stretches ?? [];
  const repaired = stretches.filter((r) => r.status === 'repaired');
  const waiting = stretches.filter((r) => r.status === 'pending' || r.status === 'running').length;
  if (repaired.length) notes.push(`${repaired.length} stretch${repaired.length > 1 ? 'es' : ''} transcribed by the backup engine during an outage ${repaired.length > 1 ? 'were' : 'was'} re-transcribed from the recording; marked Repaired below.`);
  if (waiting) notes.push(`${waiting} stretch${waiting > 1 ? 'es' : ''} from an engine outage ${waiting > 1 ? 'are' : 'is'} waiting to be re-transcribed.`);
  const isRepaired = (/** @type {Segment} */ s) => s.kind === 'final' && repaired.some((r) => s.startMs + s.endMs >= 2 * r.fromMs && s.startMs + s.endMs <= 2 * r.toMs);
  banner.textContent = notes.join(' ');
  banner.hidden = notes.length === 0;
  banner.classList.toggle('danger', status.key === 'failed');

  const audio = audioEl();
  audio.removeAttribute('src');
  if (t.recording.available) {
    audio.src = `/api/transcriptions/${t.id}/audio`;
    audio.hidden = false;
    $('t-noaudio').hidden = true;
  } else {
    audio.hidden = true;
    audio.load();
    $('t-noaudio').hidden = false;
  }
  $('t-exports').hidden = false;
  for (const f of ['txt', 'srt', 'vtt', 'json']) $(`x-${f}`).setAttribute('href', `/api/transcriptions/${t.id}/export?format=${f}`);

  state.segments = t.segments;
  state.currentIndex = -1;
  const list = $('t-segments');
  list.replaceChildren();
  // The offline engine gives no speakers: hide the column rather than show it empty.
  list.classList.toggle('no-speakers', !t.segments.some((s) => s.speaker));
  if (!t.segments.length) list.append(h('li', { class: 'muted', text: 'No speech was transcribed.' }));
  t.segments.forEach((s, i) => {
    const label =
      s.kind === 'gap'
        ? h('span', { class: 'kind', text: 'No audio received for this part' })
        : s.kind === 'provisional'
          ? h('span', { class: 'kind', text: 'Provisional' })
          : isRepaired(s)
            ? h('span', { class: 'kind repaired', text: 'Repaired', attrs: { title: 'Re-transcribed from the recording after an engine outage' } })
            : null;
    const btn = h(
      'button',
      { class: 'seg-btn', attrs: { type: 'button', 'data-index': i, 'aria-label': `Play from ${fmtClock(s.startMs)}` } },
      h('span', { class: 'time', text: `${fmtClock(s.startMs)}` }),
    );
    const li = h(
      'li',
      { class: `seg kind-${s.kind}`, attrs: { 'data-index': i, 'data-start-ms': s.startMs } },
      btn,
      h('span', { class: 'speaker', text: speakerName(s.speaker) }),
      h('span', { class: 'text' }, label, s.text ? document.createTextNode(s.text) : null),
    );
    list.append(li);
  });
  showReview(t, state.me);
}

/** Fetches the open transcript again (after an edit conflict, a signature or a reopening). */
async function reloadTranscript() {
  const id = state.currentId;
  if (!id) return;
  state.currentId = null;
  await openTranscript(id);
}

/** @param {number} ms */
function seek(ms) {
  const audio = audioEl();
  if (audio.hidden) return;
  audio.currentTime = ms / 1000;
  highlight(ms);
  audio.play().catch(() => {});
}

// One listener for all lines: a click anywhere on a line (or Enter/Space on its button) seeks there.
$('t-segments').addEventListener('click', (e) => {
  // The review controls in a line (Edit button, editor) do their own thing; see review-edit.js.
  if (e.target instanceof Element && e.target.closest('.seg-edit, .seg-editor')) return;
  const li = e.target instanceof Element ? e.target.closest('li.seg') : null;
  if (!(li instanceof HTMLElement)) return;
  const seg = state.segments[Number(li.dataset.index)];
  if (seg) seek(seg.startMs);
});

/**
 * Index of the last segment starting at or before `ms` that has not ended (binary search).
 * @param {number} ms
 */
function segmentAt(ms) {
  const segs = state.segments;
  let lo = 0;
  let hi = segs.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((segs[mid]?.startMs ?? Infinity) <= ms) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  const seg = segs[found];
  return seg && ms < Math.max(seg.endMs, seg.startMs + 1) ? found : -1;
}

/** @param {number} ms */
function highlight(ms) {
  const idx = segmentAt(ms);
  if (idx === state.currentIndex) return;
  const list = $('t-segments');
  list.querySelector('li.current')?.classList.remove('current');
  list.querySelector('li[aria-current]')?.removeAttribute('aria-current');
  state.currentIndex = idx;
  if (idx < 0) return;
  const li = list.querySelector(`li[data-index="${idx}"]`);
  if (!li) return;
  li.classList.add('current');
  li.setAttribute('aria-current', 'true');
  markSeen(idx);
  const r = li.getBoundingClientRect();
  if (r.top < 0 || r.bottom > window.innerHeight) li.scrollIntoView({ block: 'nearest' });
}
audioEl().addEventListener('timeupdate', () => {
  highlight(audioEl().currentTime * 1000);
  onPlaybackTime(audioEl().currentTime * 1000);
});
audioEl().addEventListener('seeked', () => highlight(audioEl().currentTime * 1000));

// ---------- admin: users ----------
async function loadUsers() {
  const err = $('users-error');
  err.hidden = true;
  try {
    const { items } = /** @type {Page<AdminUser>} */ (await api('GET', '/api/admin/users'));
    $('users-body').replaceChildren(...items.map(userRow));
  } catch (e) {
    showError(err, e);
  }
}

/** @param {AdminUser} u */
function userRow(u) {
  const self = u.id === state.me?.id;
  const roleSel = h('select', { attrs: { 'aria-label': `Role of ${u.username}` } });
  for (const r of ['clinician', 'reviewer', 'admin']) {
    const o = h('option', { text: r, attrs: { value: r } });
    if (r === u.role) o.selected = true;
    roleSel.append(o);
  }
  roleSel.disabled = self;
  roleSel.addEventListener('change', () => {
    // A role decides what someone may read: confirm before it changes.
    if (!confirm(`Change the role of ${u.username} from ${u.role} to ${roleSel.value}?`)) {
      roleSel.value = u.role;
      return;
    }
    void updateUser(u, { role: roleSel.value }, `Role of ${u.username} changed to ${roleSel.value}.`);
  });

  const toggle = h('button', { class: 'secondary', text: u.disabled ? 'Enable' : 'Disable', attrs: { type: 'button' } });
  toggle.disabled = self;
  toggle.addEventListener('click', () => {
    if (!u.disabled && !confirm(`Disable ${u.username}? They are signed out everywhere and cannot log in until enabled again.`)) return;
    void updateUser(u, { disabled: !u.disabled }, `${u.username} ${u.disabled ? 'enabled' : 'disabled'}.`);
  });

  const resetForm = h('form', { class: 'inline-form' });
  const pw = h('input', { attrs: { type: 'password', minlength: 12, required: '', autocomplete: 'new-password', 'aria-label': `New password for ${u.username}` } });
  resetForm.append(pw, h('button', { class: 'secondary', text: 'Reset password', attrs: { type: 'submit' } }));
  resetForm.addEventListener('submit', (e) => {
    e.preventDefault();
    updateUser(u, { password: pw.value }, `Password of ${u.username} reset.`);
  });

  // Redacted by default: the user sees [NAME], [DATE]… and reveals with a reason (audited).
  const redact = h('input', { attrs: { type: 'checkbox', 'aria-label': `Redact PHI by default for ${u.username}` } });
  redact.checked = Boolean(u.redactPhi);
  redact.addEventListener('change', async () => {
    const err = $('users-error');
    err.hidden = true;
    try {
      await api('PUT', `/api/admin/users/${u.id}/redact-phi`, { redactPhi: redact.checked });
      flash(redact.checked ? `${u.username} now sees transcripts with PHI redacted.` : `${u.username} now sees full transcripts.`);
    } catch (e) {
      showError(err, e);
    }
    await loadUsers();
  });

  return h(
    'tr',
    {},
    h('td', { text: u.username, attrs: { 'data-label': 'Username' } }),
    h('td', { attrs: { 'data-label': 'Role' } }, roleSel),
    h('td', { attrs: { 'data-label': 'Status' } }, h('span', { class: `badge ${u.disabled ? 'status-failed' : 'status-completed'}`, text: u.disabled ? 'disabled' : 'active' })),
    h('td', { attrs: { 'data-label': 'PHI redacted by default' } }, redact),
    h('td', { text: fmtDate(u.createdAt), attrs: { 'data-label': 'Created' } }),
    h('td', { class: 'row-actions' }, toggle, resetForm),
  );
}

/**
 * @param {AdminUser} u
 * @param {{ role?: string, disabled?: boolean, password?: string }} patch
 * @param {string} message what the flash says once done
 */
async function updateUser(u, patch, message) {
  const err = $('users-error');
  err.hidden = true;
  try {
    await api('PATCH', `/api/admin/users/${u.id}`, patch);
    flash(message);
  } catch (e) {
    showError(err, e);
  }
  await loadUsers();
}

$('user-add').addEventListener('submit', async (e) => {
  e.preventDefault();
  const err = $('users-error');
  err.hidden = true;
  try {
    const { user } = /** @type {{ user: AdminUser }} */ (await api('POST', '/api/admin/users', { username: fieldValue('u-username'), role: fieldValue('u-role'), password: fieldValue('u-password') }));
    $('user-add', HTMLFormElement).reset();
    flash(`User ${user.username} added.`);
    await loadUsers();
  } catch (error) {
    showError(err, error);
  }
});

// ---------- admin: audit ----------
/** @param {boolean} reset a new filter (true) or the next page (false) */
async function loadAudit(reset) {
  const err = $('audit-error');
  err.hidden = true;
  if (reset) {
    const p = new URLSearchParams();
    for (const name of ['action', 'outcome', 'actor']) if (fieldValue(`a-${name}`)) p.set(name, fieldValue(`a-${name}`));
    if (fieldValue('a-from')) p.set('from', localDayStart(fieldValue('a-from')));
    if (fieldValue('a-to')) p.set('to', localDayStart(fieldValue('a-to'), 1));
    state.auditQuery = p.toString();
    state.auditCursor = null;
  }
  const p = new URLSearchParams(state.auditQuery);
  if (!reset && state.auditCursor) p.set('cursor', state.auditCursor);
  try {
    const page = /** @type {Page<AuditRow>} */ (await api('GET', `/api/admin/audit?${p}`));
    const body = $('audit-body');
    if (reset) body.replaceChildren();
    for (const r of page.items) {
      body.append(
        h(
          'tr',
          { class: `outcome-${r.outcome}` },
          h('td', { text: fmtDateSeconds(r.at), attrs: { 'data-label': 'When' } }),
          h('td', { text: r.actorUsername ?? '—', attrs: { 'data-label': 'Who' } }),
          h('td', { text: r.action, attrs: { 'data-label': 'Action' } }),
          h('td', { text: r.outcome, attrs: { 'data-label': 'Outcome' } }),
          h('td', { attrs: { 'data-label': 'Target' } }, auditTarget(r)),
          h('td', { text: r.ip ?? '—', attrs: { 'data-label': 'From' } }),
          h('td', { class: 'details', attrs: { 'data-label': 'Details' } }, auditDetails(r.details)),
        ),
      );
    }
    state.auditCursor = page.nextCursor;
    $('audit-more').hidden = !page.nextCursor;
  } catch (e) {
    showError(err, e);
  }
}
/** "Transcription "Knee follow-up"" with a link, or "User alice": names, not UUIDs (the id stays in a tooltip). */
/** @param {AuditRow} r */
function auditTarget(r) {
  if (!r.targetId) return document.createTextNode('—');
  /** @type {Record<string, string>} */
  const kinds = { transcription: 'Transcript', user: 'User', live_session: 'Live session' };
  const kind = (r.targetType && kinds[r.targetType]) ?? r.targetType ?? '';
  const name = r.targetLabel ?? (r.targetType === 'transcription' ? 'deleted or untitled' : `${r.targetId.slice(0, 8)}…`);
  const label = r.targetType === 'transcription' && r.targetLabel !== null ? h('a', { text: `“${name || 'Untitled'}”`, attrs: { href: `#/t/${r.targetId}` } }) : document.createTextNode(name);
  return h('span', { attrs: { title: r.targetId } }, `${kind} `, label);
}

/** Details collapsed: a summary line, and each field on its own line when opened. */
/** @param {Record<string, unknown> | null} details */
function auditDetails(details) {
  const entries = Object.entries(details ?? {});
  if (!entries.length) return null;
  const line = (/** @type {[string, unknown]} */ [k, v]) => h('li', {}, h('span', { class: 'muted', text: `${k}: ` }), Array.isArray(v) ? `${v.length} item${v.length === 1 ? '' : 's'}${v.length ? ` (${v.join(', ')})` : ''}` : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));
  return h('details', {}, h('summary', { text: entries.map(([k, v]) => (Array.isArray(v) ? `${k} (${v.length})` : k)).join(', ') }), h('ul', {}, ...entries.map(line)));
}

async function loadAuditUsers() {
  if ($('a-actor', HTMLSelectElement).options.length > 1) return;
  const { items } = /** @type {Page<AdminUser>} */ (await api('GET', '/api/admin/users'));
  $('a-actor').append(...items.map((u) => h('option', { text: u.username, attrs: { value: u.id } })));
}

$('audit-filter').addEventListener('submit', (e) => {
  e.preventDefault();
  loadAudit(true);
});
$('audit-more').addEventListener('click', () => loadAudit(false));

// ---------- start ----------
initReview({ reload: reloadTranscript, render: renderTranscript, flash });
(async () => {
  try {
    const { user } = /** @type {{ user: User }} */ (await api('GET', '/api/auth/me'));
    await enter(user);
  } catch {
    showLogin();
  }
})();
