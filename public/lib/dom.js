// Small DOM helpers shared by every page. Server data only ever goes in as textContent, never as HTML
// (CSP: script-src 'self'; style-src 'self').

/** The element with that id; throws when a page lacks it, so a typo fails loudly in the tests. */
export const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el;
};

/** Creates an element with classes, attributes and text; children appended in order. */
export function h(tag, opts = {}, ...children) {
  const el = document.createElement(tag);
  if (opts.class) el.className = opts.class;
  if (opts.text !== undefined) el.textContent = String(opts.text);
  for (const [k, v] of Object.entries(opts.attrs ?? {})) if (v !== undefined && v !== null && v !== false) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.append(c);
  return el;
}

/**
 * Busy without `disabled`: a disabled button drops keyboard focus to <body>, so a clinician who
 * pressed Record with the keyboard had to Tab five times back to Stop. aria-disabled keeps the focus
 * where it is; the click handlers check `isBusy` and ignore the press.
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
export const isBusy = (el) => el.getAttribute('aria-disabled') === 'true';
