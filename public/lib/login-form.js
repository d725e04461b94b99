// @ts-check
// The one login form of every page (the full-page login and the recorder's inline one): its markup and
// its behaviour. A page holds an empty <form id="…-form" data-submit="button text">; the fields are
// built here, so the two pages cannot drift apart.
import { api, ApiError } from './api.js';
import { h, isBusy, setBusy } from './dom.js';

/** @typedef {{ id: string, username: string, role: import('../../src/auth/users.js').Role }} User */

/**
 * Builds the fields into `form`: Username and Password (ids `<prefix>-username`, `<prefix>-password`
 * where the form's id is `<prefix>-form`), the submit button (text from `data-submit`, "Log in" when
 * absent) and the error line after it (`<prefix>-error`).
 * @param {HTMLFormElement} form
 */
function renderFields(form) {
  const prefix = form.id.replace(/-form$/, '');
  const field = (/** @type {string} */ label, /** @type {Record<string, string>} */ attrs) => h('label', { text: `${label} ` }, h('input', { attrs: { id: `${prefix}-${attrs.name}`, required: 'true', ...attrs } }));
  form.replaceChildren(
    field('Username', { name: 'username', autocomplete: 'username', maxlength: '64' }),
    field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', maxlength: '256' }),
    h('button', { class: 'primary', text: form.dataset.submit ?? 'Log in', attrs: { type: 'submit' } }),
    h('p', { class: 'message error', attrs: { id: `${prefix}-error`, 'data-role': 'error', role: 'alert', hidden: 'true' } }),
  );
}

/**
 * Fills `form` with the login fields and wires it to POST /api/auth/login; `onSuccess(user)` runs
 * after a good login. Empty fields are answered here, in words, instead of by the server's "request
 * not valid".
 * @param {HTMLFormElement} form
 * @param {(user: User) => unknown} onSuccess
 */
export function mountLoginForm(form, onSuccess) {
  renderFields(form);
  const error = /** @type {HTMLElement} */ (form.querySelector('[data-role="error"]'));
  const submit = /** @type {HTMLButtonElement} */ (form.querySelector('[type="submit"]'));
  const input = (/** @type {'username' | 'password'} */ name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
  const say = (/** @type {string} */ text) => {
    error.textContent = text;
    error.hidden = !text;
  };
  form.noValidate = true;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (isBusy(submit)) return;
    say('');
    const username = input('username').value.trim();
    const password = input('password').value;
    if (!username || !password) {
      say('Enter your username and password.');
      input(username ? 'password' : 'username').focus();
      return;
    }
    setBusy(submit, true);
    try {
      const { user } = /** @type {{ user: User }} */ (await api('POST', '/api/auth/login', { username, password }));
      input('password').value = '';
      await onSuccess(user);
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0;
      say(
        status === 429
          ? 'Too many attempts. Wait a few minutes and try again.'
          : status === 401
            ? 'That username and password do not match. Try again.'
            : err instanceof Error ? err.message : String(err),
      );
      input('password').focus();
    } finally {
      setBusy(submit, false);
    }
  });
  return { reset: () => say('') };
}
