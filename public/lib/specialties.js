// @ts-check
// The specialties a session can have, with the words people read. The codes are the server's
// (src/transcripts/types.ts SPECIALTIES): `npm run typecheck` refuses a code the server does not have or
// a missing one (a Record over the server's type), and test/unit/public/specialties-format.test.ts checks
// the order. DOM-free, so the tests import it (a <select> is filled with fillOptions from dom.js).

/** @typedef {import('../../src/transcripts/types.js').Specialty} Specialty */

/** @type {Readonly<Record<Specialty, string>>} */
const LABELS = {
  PRIMARYCARE: 'Primary care',
  CARDIOLOGY: 'Cardiology',
  NEUROLOGY: 'Neurology',
  ONCOLOGY: 'Oncology',
  RADIOLOGY: 'Radiology',
  UROLOGY: 'Urology',
};

/** `[code, label]` in the server's order; the first is the default of `session:start`. */
export const SPECIALTIES = /** @type {[Specialty, string][]} */ (Object.entries(LABELS));

/** "Cardiology" for `CARDIOLOGY`; an unknown code as it is. */
export const specialtyName = (/** @type {string} */ code) => (Object.hasOwn(LABELS, code) ? LABELS[/** @type {Specialty} */ (code)] : code);
