// The one login form behaviour for every page (the full-page login and the recorder's inline one).
import { api } from './api.js';
import { setBusy, isBusy } from './dom.js';

/**
 * Wires `form` (with inputs named `username` and `password`, a submit button and an element with
 * `data-role="error"`) to POST /api/auth/login; `onSuccess(user)` runs after a good login.
 * Empty fields are answered here, in words, instead of by the server's "request not valid".
 */
export function mountLoginForm(form, onSuccess) {
  const error = form.querySelector('[data-role="error"]');
  const submit = form.querySelector('[type="submit"]');
  const say = (text) => {
    error.textContent = text;
    error.hidden = !text;
  };
  form.noValidate = true;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (isBusy(submit)) return;
    say('');
    const username = form.elements.username.value.trim();
    const password = form.elements.password.value;
    if (!username || !password) {
      say('Enter your username and password.');
      (username ? form.elements.password : form.elements.username).focus();
      return;
    }
    setBusy(submit, true);
    try {
      const { user } = await api('POST', '/api/auth/login', { username, password });
      form.elements.password.value = '';
      await onSuccess(user);
    } catch (err) {
      say(
        err.status === 429
          ? 'Too many attempts. Wait a few minutes and try again.'
          : err.status === 401
            ? 'That username and password do not match. Try again.'
            : err.message,
      );
      form.elements.password.focus();
    } finally {
      setBusy(submit, false);
    }
  });
  return { reset: () => say('') };
}
