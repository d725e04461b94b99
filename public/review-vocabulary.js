// Admin: a custom vocabulary per specialty (docs/review.md, "Custom vocabulary"). The terms are
// edited in a table and saved as a whole on the version loaded (a stale save is refused and reloaded).
// Server data goes into the DOM as textContent or input values only (CSP: script-src 'self').

import { api } from './lib/api.js';
import { $, h } from './lib/dom.js';
import { fmtDate } from './lib/format.js';

const state = { specialty: 'PRIMARYCARE', version: 0, flash: () => {} };

/** Wires the view's controls once; `flash(message)` is the page's notice. */
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
  state.specialty = $('v-specialty').value;
  try {
    const { vocabulary } = await api('GET', `/api/admin/vocabularies/${state.specialty}`);
    show(vocabulary);
  } catch (e) {
    showError(e);
  }
}

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

function termRow(t) {
  const input = (name, label, value) => h('input', { attrs: { name, value: value ?? '', 'aria-label': label, autocomplete: 'off', spellcheck: 'false', maxlength: 256 } });
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
  const terms = [];
  for (const row of $('v-terms').querySelectorAll('tr')) {
    const get = (name) => row.querySelector(`input[name="${name}"]`).value.trim();
    const phrase = get('phrase');
    if (!phrase) continue;
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
    const { vocabulary } = await api('PUT', `/api/admin/vocabularies/${state.specialty}`, { version: state.version, terms: termsInTable() });
    show(vocabulary);
    state.flash(`Vocabulary saved (${vocabulary.terms.length} terms).`);
  } catch (e) {
    if (e.code === 'vocabulary_conflict') {
      showError(new Error('Someone else changed this vocabulary; it was reloaded. Apply your change again.'));
      const { vocabulary } = await api('GET', `/api/admin/vocabularies/${state.specialty}`);
      show(vocabulary);
      return;
    }
    showError(e);
  }
}

async function publish() {
  try {
    const { vocabulary } = await api('POST', `/api/admin/vocabularies/${state.specialty}/publish`);
    show(vocabulary);
  } catch (e) {
    showError(e);
  }
}

function showError(e) {
  const el = $('vocabulary-error');
  el.textContent = e instanceof Error ? e.message : String(e);
  el.hidden = false;
}
