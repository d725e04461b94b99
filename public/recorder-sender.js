// @ts-check
// The recording page's audio ledger and sender, without the DOM: every chunk gets its seq, is kept
// (in memory and through the store port, IndexedDB in the page) until the server's durableSeq covers
// it, is sent through the socket port with at most MAX_IN_FLIGHT unacknowledged, and is resent from
// the server's ackSeq + 1 after a resume (docs/resilience.md, "Client ↔ server: the audio ledger").
// test/unit/public/recorder-sender.test.ts drives it in Node with a fake socket and a fake store.

/** @typedef {import('../src/realtime/events.js').ClientToServerEvents} ClientToServerEvents */
/** @typedef {import('../src/realtime/events.js').AudioEncoding} AudioEncoding */
/**
 * The ack an event of the map answers with (`{ok: true, …}` or a Failure).
 * @template {keyof ClientToServerEvents} E
 * @typedef {Parameters<Parameters<ClientToServerEvents[E]>[1]>[0]} AckOf
 */
/**
 * A refused chunk: `sequence_gap` also says the ackSeq to resend from (src/realtime/dictation-handlers.ts).
 * @typedef {import('../src/realtime/events.js').Failure & { ackSeq?: number }} ChunkFailure
 */

/**
 * The socket as the sender needs it; each request rejects when its ack times out.
 * @typedef {object} SenderSocket
 * @property {() => boolean} connected
 * @property {(payload: { sessionId: string, seq: number, data: ArrayBuffer }) => Promise<AckOf<'audio:chunk'>>} chunk
 * @property {(payload: { sessionId: string, lastSeq: number }) => Promise<AckOf<'session:resume'>>} resume
 * @property {(payload: { sessionId: string, fromSeq: number, toSeq: number, durationMs: number }) => Promise<AckOf<'audio:gap'>>} gap
 */

/**
 * Which session the chunks belong to, stored with them so a reload can resume it.
 * `capture` says how the page records it (recorder-capture.js), so a reload knows whether it can go on.
 * @typedef {{ sessionId: string, transcriptionId: string, userId: string, encoding: AudioEncoding, capture?: 'opus' | 'mediarecorder' | 'pcm' }} SessionMeta
 */

/**
 * Where chunks survive a tab reload (IndexedDB in the page, recorder-ledger.js). Failures are
 * swallowed by the sender: the in-memory ledger still holds everything.
 * @typedef {object} LedgerStore
 * @property {(meta: SessionMeta) => Promise<unknown>} start a new session: no chunk yet
 * @property {(meta: SessionMeta, seq: number, data: ArrayBuffer) => Promise<unknown>} save the chunk and the next seq, together
 * @property {(sessionId: string, durableSeq: number) => Promise<unknown>} ack drops every chunk up to durableSeq
 * @property {() => Promise<unknown>} clear
 */

/** 200 ms of 16 kHz PCM per audio:chunk. */
export const CHUNK_FRAMES = 2;
/** 100 ms per frame (the worklet's and the server's framing). */
export const FRAME_MS = 100;
/** Unacknowledged chunks before the sender waits (throttled by acks, never dropped). */
export const MAX_IN_FLIGHT = 10;

// Refusals a resume waits out: another task may still be saving the session it was handed at a
// deploy; a continuation refused by the per-user limit goes on once the user stops another session.
const RESUME_RETRY = new Set(['session_moving', 'storage_unavailable', 'server_shutdown', 'transcriber_unavailable', 'capacity_exceeded', 'too_many_sessions']);
const RESUME_ATTEMPTS = 20;

/**
 * How long to wait before resume attempt `attempt + 1` after a refusal with `code`, or null to give up.
 * While moving (the server shut down), `session_not_found`/`session_ended` mean "not handed over yet".
 * @param {string | undefined} code
 * @param {number} attempt 0 for the first attempt
 * @param {boolean} moving
 * @returns {number | null}
 */
export function resumeRetryDelay(code, attempt, moving) {
  const retry = (code !== undefined && RESUME_RETRY.has(code)) || (moving && (code === 'session_not_found' || code === 'session_ended'));
  return retry && attempt < RESUME_ATTEMPTS ? Math.min(500 * 2 ** attempt, 5000) : null;
}

/** An error that carries the server's code (session:resume refused). */
export class RefusedError extends Error {
  /** @param {{ code: string, message: string }} error */
  constructor(error) {
    super(error.message);
    this.code = error.code;
  }
}

const ignore = () => {};

export class ChunkSender {
  /**
   * @param {{
   *   socket: () => SenderSocket | null,
   *   store: LedgerStore,
   *   onAcknowledged?: () => void,
   *   onRefused?: (error: { code: string, message: string }) => void,
   * }} deps `onAcknowledged` after every ack (the page says "all sent" once nothing is held);
   *   `onRefused` for a chunk the server refused for a reason worth telling the user
   */
  constructor(deps) {
    this.deps = deps;
    /** @type {SessionMeta | null} */
    this.meta = null;
    this.seq = 0;
    this.ackSeq = -1;
    /** @type {Map<number, ArrayBuffer>} seq → chunk sent or waiting, not yet acknowledged */
    this.ledger = new Map();
    /**
     * Acknowledged but not yet durable (above durableSeq): the task holding them may still be lost,
     * so they are kept and resent when a resume answers a lower ackSeq.
     * @type {Map<number, ArrayBuffer>}
     */
    this.kept = new Map();
    this.durableSeq = -1;
    this.durableKnown = false; // the server reports durableSeq (API.md); without it, acknowledged is durable
    /** @type {Uint8Array[]} 100 ms frames not yet packed into a chunk */
    this.pending = [];
    /** @type {Set<number>} seqs sent and waiting for their ack */
    this.sending = new Set();
  }

  /** Chunks sent and not yet answered (at most MAX_IN_FLIGHT). */
  get inFlight() {
    return this.sending.size;
  }

  get sessionId() {
    return this.meta?.sessionId ?? null;
  }

  /** @param {SessionMeta} meta @param {number} nextSeq */
  #reset(meta, nextSeq) {
    this.meta = meta;
    this.seq = nextSeq;
    this.ackSeq = -1;
    this.ledger.clear();
    this.kept = new Map();
    this.durableSeq = -1;
    this.durableKnown = false;
    this.pending = [];
    this.sending.clear();
  }

  /**
   * A new session: nothing held, seq 0; resolves once the store knows it.
   * @param {SessionMeta} meta
   */
  async begin(meta) {
    this.#reset(meta, 0);
    await this.deps.store.start(meta).catch(ignore);
  }

  /**
   * A session found in the store after a reload: its chunks wait for the resume.
   * @param {SessionMeta} meta
   * @param {number} nextSeq
   * @param {{ seq: number, data: ArrayBuffer }[]} chunks
   */
  restore(meta, nextSeq, chunks) {
    this.#reset(meta, nextSeq);
    for (const c of chunks) this.ledger.set(c.seq, c.data);
  }

  /** Ends the session here: forgets every chunk, in memory and in the store. */
  end() {
    this.meta = null;
    this.ledger.clear();
    this.kept = new Map();
    this.durableSeq = -1;
    this.durableKnown = false;
    this.pending = [];
    this.deps.store.clear().catch(ignore);
  }

  /** Audio this browser holds that the server has not acknowledged, in milliseconds. */
  heldMs() {
    return (this.ledger.size * CHUNK_FRAMES + this.pending.length) * FRAME_MS;
  }

  /** Whether the server has acknowledged everything recorded so far. */
  get drained() {
    return this.ledger.size === 0;
  }

  /**
   * One 100 ms PCM frame; every CHUNK_FRAMES of them go out as one chunk.
   * @param {ArrayBuffer} pcm
   */
  pushFrame(pcm) {
    this.pending.push(new Uint8Array(pcm));
    if (this.pending.length >= CHUNK_FRAMES) this.flush();
  }

  /** Packs the frames not yet sent (fewer than CHUNK_FRAMES at a stop) into one chunk. */
  flush() {
    if (this.pending.length === 0) return;
    const size = this.pending.reduce((n, f) => n + f.byteLength, 0);
    const data = new Uint8Array(size);
    let off = 0;
    for (const f of this.pending) {
      data.set(f, off);
      off += f.byteLength;
    }
    this.pending = [];
    this.queue(data);
  }

  /**
   * Gives the next chunk its seq, keeps it in the ledger (memory and store) and sends it.
   * @param {Uint8Array} data a whole buffer (its `.buffer` is what is kept and sent)
   */
  queue(data) {
    if (!this.meta) return;
    const seq = this.seq++;
    const buffer = /** @type {ArrayBuffer} */ (data.buffer);
    this.ledger.set(seq, buffer);
    this.deps.store.save(this.meta, seq, buffer).catch(ignore);
    this.#send(seq, buffer);
  }

  /** @param {number} seq @param {ArrayBuffer} data */
  #send(seq, data) {
    const socket = this.deps.socket();
    const sessionId = this.sessionId;
    if (!socket?.connected() || !sessionId || this.sending.has(seq) || this.inFlight >= MAX_IN_FLIGHT) return; // kept in the ledger; sent on ack or resume
    this.sending.add(seq);
    socket.chunk({ sessionId, seq, data }).then(
      (res) => {
        this.sending.delete(seq);
        if (res.ok) this.acknowledge(res.ackSeq, res.durableSeq);
        else if (res.error.code === 'sequence_gap') this.#resendAfterGap(/** @type {ChunkFailure} */ (res).ackSeq ?? this.ackSeq);
        else if (res.error.code === 'session_ended' || res.error.code === 'session_not_found' || res.error.code === 'invalid_audio') return;
        else this.deps.onRefused?.(res.error);
        this.pump();
      },
      () => {
        // Timed out: the resume after the reconnect (or the next pump) resends it.
        this.sending.delete(seq);
      },
    );
  }

  /**
   * The server refused a chunk after a hole and has everything up to `ackSeq`: the transport keeps
   * order, so chunks after it still waiting for their acks were refused too; all go again from
   * `ackSeq + 1`.
   * @param {number} ackSeq
   */
  #resendAfterGap(ackSeq) {
    this.acknowledge(ackSeq, this.durableSeq);
    for (const seq of this.sending) if (seq > this.ackSeq) this.sending.delete(seq);
  }

  /**
   * The server has everything up to `ackSeq`, and durably up to `durableSeq`: acknowledged chunks
   * leave the ledger, the ones not yet durable stay kept, the durable ones are forgotten (store too).
   * @param {number | undefined} ackSeq
   * @param {number | undefined} durableSeq
   */
  acknowledge(ackSeq, durableSeq) {
    if (typeof ackSeq !== 'number') return;
    this.ackSeq = Math.max(this.ackSeq, ackSeq);
    if (typeof durableSeq === 'number') this.durableKnown = true;
    const durable = this.durableKnown ? (typeof durableSeq === 'number' ? durableSeq : -1) : this.ackSeq;
    this.durableSeq = Math.max(this.durableSeq, Math.min(durable, this.ackSeq));
    for (const [seq, data] of this.ledger) {
      if (seq > this.ackSeq) continue;
      this.ledger.delete(seq);
      if (seq > this.durableSeq) this.kept.set(seq, data);
    }
    for (const seq of this.kept.keys()) if (seq <= this.durableSeq) this.kept.delete(seq);
    // The store keeps everything durableSeq does not cover: a reload after the task is lost resends it.
    if (this.meta && this.durableSeq >= 0) this.deps.store.ack(this.meta.sessionId, this.durableSeq).catch(ignore);
    this.deps.onAcknowledged?.();
  }

  /**
   * A resume that answers less than was acknowledged: the task that held the rest died, and another
   * continues from what was durable. What this page kept past that point is sent again.
   * @param {number} ackSeq
   */
  rewind(ackSeq) {
    if (ackSeq >= this.ackSeq) return;
    for (const [seq, data] of this.kept) {
      if (seq <= ackSeq) continue;
      this.kept.delete(seq);
      this.ledger.set(seq, data);
    }
    this.ackSeq = ackSeq;
  }

  /**
   * Sends what waits in the ledger (not in flight), oldest first, while the window has room. (Before
   * the split, chunks still in flight counted as waiting: each ack sent the oldest unanswered chunk
   * a second time instead of the next one, and Stop's 200 ms pump resent the whole window.)
   */
  pump() {
    const waiting = [...this.ledger.keys()].filter((seq) => seq > this.ackSeq && !this.sending.has(seq)).sort((a, b) => a - b);
    for (const seq of waiting.slice(0, Math.max(0, MAX_IN_FLIGHT - this.inFlight))) {
      const data = this.ledger.get(seq);
      if (data) this.#send(seq, data);
    }
  }

  /** The server shut down: acks in flight will never come; the resume starts the window again. */
  dropInFlight() {
    this.sending.clear();
  }

  /**
   * One `session:resume`: takes the server's ackSeq and durableSeq (rewinding when it holds less than
   * was acknowledged), declares chunks this page no longer has as a gap, and resends the rest.
   * @throws RefusedError when the server refuses, or the socket's timeout error
   */
  async resume() {
    const socket = this.deps.socket();
    const sessionId = this.sessionId;
    if (!socket || !sessionId) return;
    const res = await socket.resume({ sessionId, lastSeq: this.seq - 1 });
    if (!res.ok) throw new RefusedError(res.error);
    this.rewind(res.ackSeq);
    this.acknowledge(res.ackSeq, res.durableSeq);
    this.sending.clear();
    await this.#declareLost(socket, sessionId);
    for (const [seq, data] of [...this.ledger].sort((a, b) => a[0] - b[0])) this.#send(seq, data);
  }

  /**
   * Chunks after the server's ackSeq that this page no longer has (lost with a crashed tab before
   * they reached the store) are declared as a gap, so the transcript marks them instead of a hole.
   * @param {SenderSocket} socket
   * @param {string} sessionId
   */
  async #declareLost(socket, sessionId) {
    const first = Math.min(this.seq, ...this.ledger.keys());
    if (first <= this.ackSeq + 1) return;
    const fromSeq = this.ackSeq + 1;
    const toSeq = first - 1;
    const res = await socket.gap({ sessionId, fromSeq, toSeq, durationMs: (toSeq - fromSeq + 1) * CHUNK_FRAMES * FRAME_MS }).catch(() => null);
    if (res?.ok) this.acknowledge(res.ackSeq, res.durableSeq);
  }
}
