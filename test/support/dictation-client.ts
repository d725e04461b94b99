import { io as connect, type Socket } from 'socket.io-client';
import type { AckResponse, ClientToServerEvents, EventName, EventPayload, ServerToClientEvents } from '../../src/realtime/events.js';

/** A socket.io-client socket typed by the event map of src/realtime/events.ts. */
export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
/** What a server event carries. */
export type ServerEvent<E extends keyof ServerToClientEvents> = Parameters<ServerToClientEvents[E]>[0];
/** The ack of a request the map does not type (an unknown event or a malformed payload, on purpose). */
export type AnyAck = { ok: boolean; error?: { code: string; message: string }; [field: string]: unknown };

export interface Received {
  partials: Array<ServerEvent<'transcript:partial'>>;
  finals: Array<ServerEvent<'transcript:final'>>;
  /** `session:error` events: the fatal ones, and the notices again with `fatal: false` (API.md). */
  errors: Array<ServerEvent<'session:error'>>;
  /** `session:notice` events. */
  notices: Array<ServerEvent<'session:notice'>>;
  ended: Array<ServerEvent<'session:ended'>>;
}

/**
 * The fields of a successful ack; throws with the error's code and message otherwise (so a test
 * reads `ok(await c.request(…)).ackSeq` and a failure says why).
 */
export function ok<A extends { ok: boolean }>(ack: A): Extract<A, { ok: true }> {
  if (!ack.ok) {
    const error = (ack as { error?: { code: string; message: string } }).error;
    throw Object.assign(new Error(`${error?.code ?? 'unknown'}: ${error?.message ?? ''}`), { code: error?.code, ack });
  }
  return ack as Extract<A, { ok: true }>;
}

/**
 * A real socket.io-client speaking the API.md contract, as a browser page or a load tool would:
 * start, send chunks with seq and wait for acks (a window of `inFlight`), stop. Typed by the event
 * map: `request(event, payload)` takes that event's payload and resolves with its ack. The one
 * client of the tests and of the load generator (scripts/bench-load.ts, with `record: false`).
 */
export class DictationClient {
  readonly socket: ClientSocket;
  /** What the server sent (empty with `record: false`: a long load run would keep every partial). */
  readonly received: Received = { partials: [], finals: [], errors: [], notices: [], ended: [] };
  /** Set by `start()`, or by a test that follows a session started elsewhere (unset before). */
  sessionId!: string;
  transcriptionId!: string;

  constructor(url: string, cookie: string, headers: Record<string, string> = {}, options: { record?: boolean } = {}) {
    this.socket = connect(url, { extraHeaders: { ...headers, cookie }, transports: ['websocket'], reconnection: false, forceNew: true });
    if (options.record === false) return;
    this.socket.on('transcript:partial', (p) => this.received.partials.push(p));
    this.socket.on('transcript:final', (p) => this.received.finals.push(p));
    this.socket.on('session:error', (p) => this.received.errors.push(p));
    this.socket.on('session:notice', (p) => this.received.notices.push(p));
    this.socket.on('session:ended', (p) => this.received.ended.push(p));
  }

  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.connected) return resolve();
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', reject);
    });
  }

  /** Sends `event` and resolves with its ack; rejects when none comes within `timeoutMs`. */
  request<E extends EventName>(event: E, payload: EventPayload<E>, timeoutMs = 30_000): Promise<AckResponse<E>> {
    // The signature above is the typed surface; socket.io-client cannot infer through a generic
    // event name, and types a timeout ack's value as `any` anyway (its FirstArg misses the error).
    return (this.socket as Socket).timeout(timeoutMs).emitWithAck(event, payload) as Promise<AckResponse<E>>;
  }

  /** Sends anything under any name, for tests of what the server does with malformed events. */
  requestRaw(event: string, payload: unknown, timeoutMs = 30_000): Promise<AnyAck> {
    return this.raw.timeout(timeoutMs).emitWithAck(event, payload) as Promise<AnyAck>;
  }

  /** The same socket untyped, for events and payloads outside the map (malformed on purpose). */
  get raw(): Socket {
    return this.socket as Socket;
  }

  async start(payload: EventPayload<'session:start'> = { audio: { encoding: 'pcm_s16le', sampleRate: 16000 } }) {
    await this.connected();
    const res = await this.request('session:start', payload);
    if (res.ok) {
      this.sessionId = res.sessionId;
      this.transcriptionId = res.transcriptionId;
    }
    return res;
  }

  chunk(seq: number, data: Buffer) {
    return this.request('audio:chunk', { sessionId: this.sessionId!, seq, data });
  }

  /** Sends every chunk in order with at most `inFlight` unacknowledged; returns the last ack. */
  async stream(chunks: Buffer[], opts: { inFlight?: number; firstSeq?: number; realTimeMsPerChunk?: number } = {}) {
    const inFlight = opts.inFlight ?? 8;
    const first = opts.firstSeq ?? 0;
    let next = 0;
    let last: Extract<AckResponse<'audio:chunk'>, { ok: true }> | undefined;
    const started = Date.now();
    const worker = async () => {
      while (next < chunks.length) {
        const i = next++;
        if (opts.realTimeMsPerChunk) {
          const due = started + i * opts.realTimeMsPerChunk - Date.now();
          if (due > 0) await new Promise((r) => setTimeout(r, due));
        }
        const res = await this.chunk(first + i, chunks[i]!);
        if (!res.ok) throw Object.assign(new Error(res.error.message), { code: res.error.code, ack: res });
        if (!last || res.ackSeq > last.ackSeq) last = res;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    return last!;
  }

  stop(timeoutMs = 60_000) {
    return this.request('session:stop', { sessionId: this.sessionId! }, timeoutMs);
  }

  close(): void {
    this.socket.disconnect();
  }
}

/** Splits PCM into chunks of `ms` milliseconds at 16 kHz. */
export function pcmChunks(pcm: Buffer, ms = 200, rate = 16000): Buffer[] {
  const size = Math.round((rate * 2 * ms) / 1000);
  const out: Buffer[] = [];
  for (let i = 0; i < pcm.length; i += size) out.push(pcm.subarray(i, Math.min(i + size, pcm.length)));
  return out;
}
