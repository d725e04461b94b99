// @ts-check
// What the server decides and the pages say (GET /api/settings, docs/resilience.md): loaded once after
// login, read synchronously afterwards.
import { api } from './api.js';

/** @typedef {import('../../src/http/routes/settings.js').PageSettings} PageSettings */

/** @type {Partial<PageSettings>} empty until {@link loadSettings} answered */
export const settings = {};

/**
 * Fetches the settings once per page; a failure leaves them unknown (the texts then say less) and
 * the next call tries again.
 * @returns {Promise<void>}
 */
export async function loadSettings() {
  if (settings.idleTimeoutMs !== undefined) return;
  try {
    Object.assign(settings, /** @type {PageSettings} */ (await api('GET', '/api/settings')));
  } catch {
    /* unknown: "without audio" without the figure */
  }
}
