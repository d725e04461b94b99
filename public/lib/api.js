// @ts-check
// One fetch wrapper for every page: JSON in and out, the API's `{error:{code,message}}` as an Error.

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0: the request never arrived)
   * @param {string} code the API's error code (docs/errors.md), `network` or `error`
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Hooks a page sets: what to do when a request finds the user signed out. */
/** @type {{ onUnauthenticated: (() => void) | null }} */
export const apiHooks = { onUnauthenticated: null };

/**
 * `api('GET', '/api/…')` or `api('POST', path, body)`; resolves to the JSON body (undefined for 204).
 * The caller names the body's type with a cast (`/** @type {{ user: User }} *\/ (await api(…))`).
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<unknown>}
 * @throws ApiError with the server's code and message (or `network` when the request never arrived).
 */
export async function api(method, path, body) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'network', 'The server could not be reached. Check the connection and try again.');
  }
  const text = await res.text();
  /** @type {{ error?: { code?: string, message?: string } } | undefined} */
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    if (res.status === 401 && !path.startsWith('/api/auth/')) apiHooks.onUnauthenticated?.();
    throw new ApiError(res.status, json?.error?.code ?? 'error', json?.error?.message ?? `Request failed (${res.status}).`);
  }
  return json;
}
