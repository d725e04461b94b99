// @ts-check
// The ledger on disk: every chunk not yet covered by the server's durableSeq is also kept in
// IndexedDB with the session id, so a tab reload (or a crash of the tab, or the loss of the server
// task) resumes the session and resends it (docs/resilience.md). The sender's LedgerStore port.

/** @typedef {import('./recorder-sender.js').SessionMeta} SessionMeta */
/** @typedef {import('./recorder-sender.js').LedgerStore} LedgerStore */
/** @typedef {SessionMeta & { nextSeq: number }} StoredMeta */

/** @type {Promise<IDBDatabase> | undefined} */
let opening;
const open = () =>
  (opening ??= new Promise((resolve, reject) => {
    const req = indexedDB.open('arogya-ledger', 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore('meta');
      req.result.createObjectStore('chunks', { keyPath: ['sessionId', 'seq'] });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  }));

/**
 * Runs `fn` in one transaction; resolves when it commits.
 * @param {string[]} stores
 * @param {(tx: IDBTransaction) => void} fn
 * @returns {Promise<void>}
 */
async function write(stores, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(stores, 'readwrite');
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
    fn(tx);
  });
}

/**
 * @template T
 * @param {IDBRequest<T>} req
 * @returns {Promise<T>}
 */
const request = (req) =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });

/** @type {LedgerStore} */
export const ledgerStore = {
  start: (meta) =>
    write(['meta', 'chunks'], (tx) => {
      tx.objectStore('chunks').clear();
      tx.objectStore('meta').put({ ...meta, nextSeq: 0 }, 'current');
    }),
  /** The chunk and the next seq in one transaction: a chunk lost in a crash is never counted. */
  save: (meta, seq, data) =>
    write(['meta', 'chunks'], (tx) => {
      tx.objectStore('chunks').put({ sessionId: meta.sessionId, seq, data });
      tx.objectStore('meta').put({ ...meta, nextSeq: seq + 1 }, 'current');
    }),
  ack: (sessionId, durableSeq) => write(['chunks'], (tx) => tx.objectStore('chunks').delete(IDBKeyRange.bound([sessionId, 0], [sessionId, durableSeq]))),
  clear: () =>
    write(['meta', 'chunks'], (tx) => {
      tx.objectStore('meta').clear();
      tx.objectStore('chunks').clear();
    }),
};

/**
 * The unfinished session on disk and its chunks, or null.
 * @returns {Promise<{ meta: StoredMeta, chunks: { seq: number, data: ArrayBuffer }[] } | null>}
 */
export async function loadLedger() {
  const db = await open();
  const tx = db.transaction(['meta', 'chunks'], 'readonly');
  const meta = /** @type {StoredMeta | undefined} */ (await request(tx.objectStore('meta').get('current')));
  if (!meta) return null;
  const chunks = /** @type {{ seq: number, data: ArrayBuffer }[]} */ (
    await request(tx.objectStore('chunks').getAll(IDBKeyRange.bound([meta.sessionId, 0], [meta.sessionId, Number.MAX_SAFE_INTEGER])))
  );
  return { meta, chunks };
}
