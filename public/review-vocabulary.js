// @ts-check
// Admin: a custom vocabulary per specialty (docs/review.md, "Custom vocabulary"). The terms are
// edited in a table and saved as a whole on the version loaded (a stale save is refused and reloaded).
// Server data goes into the DOM as textContent or input values only (CSP: script-src 'self').

import { api, ApiError } from './lib/api.js';
import { $, h } from './lib/dom.js';
import { fmtDate } from './lib/format.js';

/** @typedef {import('../src/http/routes/vocabularies.js').VocabularyView} Vocabulary */
/** @typedef {import('../src/transcription/port.js').VocabularyTerm} Term */

/** @type {{ specialty: string, version: number, flash: (message: string) => void }} */
const state = { specialty: 'PRIMARYCARE', version: 0, flash: () => {} };

/** @param {unknown} answer `{vocabulary}` from GET, PUT and publish */
const vocabularyOf = (answer) => /** @type {{ vocabulary: Vocabulary }} */ (answer).vocabulary;

/**
 * Wires the view's controls once; `flash(message)` is the page's notice.
 * @param {{ flash: (message: string) => void }} hooks
 */
export function initVocabulary({ flash }) {
  state.flash = flash;
  $('v-specialty').addEventListener('change', () => void loadVocabulary());
  $('v-add').addEventListener('click', () => {
    const row = termRow({ phrase: '' });
    $('v-terms').append(row);
    row.querySelector('input')?.focus();
  });
  $('v-save').addEventListener('click', () => void save());
  $('v-publish').addEventListener('click', () => void publish());
}

/** Loads the selected specialty's vocabulary into the table. */
export async function loadVocabulary() {
  const err = $('vocabulary-error');
  err.hidden = true;
  const select = $('v-specialty', HTMLSelectElement);
  const specialty = select.value;
  try {
    const vocabulary = vocabularyOf(await api('GET', `/api/admin/vocabularies/${specialty}`));
    // The route's load of the default specialty may answer after the admin picked another one:
    // only the answer for the specialty selected now may fill the table.
    if (select.value !== specialty) return;
    state.specialty = specialty;
    show(vocabulary);
  } catch (e) {
    if (select.value === specialty) showError(e);
  }
}

/** @param {Vocabulary} v */
function show(v) {
  state.version = v.version;
  $('v-terms').replaceChildren(...v.terms.map(termRow));
  const parts = [v.version === 0 ? 'No terms saved yet.' : `Version ${v.version}, saved ${fmtDate(v.updatedAt)}.`];
  if (v.engine === 'aws') {
    const tr = v.transcribe;
    parts.push(tr ? `Transcribe: ${tr.state.toLowerCase()}${tr.state === 'READY' ? ` (version ${tr.version})` : ''}${tr.failure ? ` — ${tr.failure}` : ''}.` : 'Transcribe: not sent yet.');
    $('v-publish').hidden = !(tr && tr.state === 'FAILED');
  } else {
    parts.push('The offline engine adds these terms to its dictionary for each session of this specialty.');
    $('v-publish').hidden = true;
  }
  $('v-state').textContent = parts.join(' ');
}

/** @param {Term} t */
function termRow(t) {
  const input = (/** @type {string} */ name, /** @type {string} */ label, /** @type {string | undefined} */ value) => h('input', { attrs: { name, value: value ?? '', 'aria-label': label, autocomplete: 'off', spellcheck: 'false', maxlength: 256 } });
  const remove = h('button', { class: 'secondary', text: 'Remove', attrs: { type: 'button' } });
  const row = h(
    'tr',
    { class: 'v-term' },
    h('td', { attrs: { 'data-label': 'Phrase' } }, input('phrase', 'Phrase', t.phrase)),
    h('td', { attrs: { 'data-label': 'Sounds like' } }, input('soundsLike', 'Sounds like', t.soundsLike)),
    h('td', { attrs: { 'data-label': 'Display as' } }, input('displayAs', 'Display as', t.displayAs)),
    h('td', { class: 'row-actions' }, remove),
  );
  remove.addEventListener('click', () => row.remove());
  return row;
}

function termsInTable() {
  /** @type {Term[]} */
  const terms = [];
  for (const row of $('v-terms').querySelectorAll('tr')) {
    const get = (/** @type {keyof Term} */ name) => {
      const input = row.querySelector(`input[name="${name}"]`);
      return input instanceof HTMLInputElement ? input.value.trim() : '';
    };
    const phrase = get('phrase');
    if (!phrase) continue;
    /** @type {Term} */
    const term = { phrase };
    if (get('soundsLike')) term.soundsLike = get('soundsLike');
    if (get('displayAs')) term.displayAs = get('displayAs');
    terms.push(term);
  }
  return terms;
}

async function save() {
  const err = $('vocabulary-error');
  err.hidden = true;
  try {
    const vocabulary = vocabularyOf(await api('PUT', `/api/admin/vocabularies/${state.specialty}`, { version: state.version, terms: termsInTable() }));
    show(vocabulary);
    state.flash(`Vocabulary saved (${vocabulary.terms.length} terms).`);
  } catch (e) {
    if (e instanceof ApiError && e.code === 'vocabulary_conflict') {
      showError(new Error('Someone else changed this vocabulary; it was reloaded. Apply your change again.'));
      show(vocabularyOf(await api('GET', `/api/admin/vocabularies/${state.specialty}`)));
      return;
    }
    showError(e);
  }
}

async function publish() {
  try {
    show(vocabularyOf(await api('POST', `/api/admin/vocabularies/${state.specialty}/publish`)));
  } catch (e) {
    showError(e);
  }
}

/** @param {unknown} e */
function showError(e) {
  const el = $('vocabulary-error');
  el.textContent = e instanceof Error ? e.message : String(e);
  el.hidden = false;
}
