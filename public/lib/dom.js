// @ts-check
// Small DOM helpers shared by every page. Server data only ever goes in as textContent, never as HTML
// (CSP: script-src 'self'; style-src 'self').

/**
 * The element with that id, checked to be of `type` (HTMLElement when not given); throws when a page
 * lacks it or it is of another kind, so a typo fails loudly in the tests.
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @param {{ new (): T, prototype: T }} [type]
 * @returns {T}
 */
export function $(id, type) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  const want = type ?? HTMLElement;
  if (!(el instanceof want)) throw new Error(`#${id} is not a ${want.name}`);
  return /** @type {T} */ (el);
}

/**
 * Creates an element with classes, attributes and text; children appended in order.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {{ class?: string, text?: string | number, attrs?: Record<string, string | number | boolean | null | undefined> }} [opts]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, opts = {}, ...children) {
  const el = document.createElement(tag);
  if (opts.class) el.className = opts.class;
  if (opts.text !== undefined) el.textContent = String(opts.text);
  for (const [k, v] of Object.entries(opts.attrs ?? {})) if (v !== undefined && v !== null && v !== false) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.append(c);
  return el;
}

/**
 * Appends an <option> per `[value, label]` (after any already there, e.g. "Any").
 * @param {HTMLSelectElement} select
 * @param {readonly (readonly [string, string])[]} options
 */
export function fillOptions(select, options) {
  for (const [value, label] of options) select.append(h('option', { text: label, attrs: { value } }));
}

/**
 * Busy without `disabled`: a disabled button drops keyboard focus to <body>, so a clinician who
 * pressed Record with the keyboard had to Tab five times back to Stop. aria-disabled keeps the focus
 * where it is; the click handlers check `isBusy` and ignore the press.
 * @param {Element} el
 * @param {boolean} busy
 */
export function setBusy(el, busy) {
  if (busy) {
    el.setAttribute('aria-disabled', 'true');
    el.setAttribute('aria-busy', 'true');
  } else {
    el.removeAttribute('aria-disabled');
    el.removeAttribute('aria-busy');
  }
}
export const isBusy = (/** @type {Element} */ el) => el.getAttribute('aria-disabled') === 'true';
