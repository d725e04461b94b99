import { io as connect, type Socket } from 'socket.io-client';

export interface Received {
  partials: Array<{ segmentId: string; text: string; startMs: number; endMs: number }>;
  finals: Array<{ segmentId: string; text: string; startMs: number; endMs: number; speaker?: string }>;
  /** `session:error` events: the fatal ones, and the notices again with `fatal: false` (API.md). */
  errors: Array<{ code: string; message: string; fatal: boolean }>;
  /** `session:notice` events. */
  notices: Array<{ code: string; message: string }>;
  ended: Array<{ reason: string; transcriptionId: string }>;
}

/**
 * A real socket.io-client speaking the API.md contract, as a browser page or a load tool would:
 * start, send chunks with seq and wait for acks (a window of `inFlight`), stop.
 */
export class DictationClient {
  readonly socket: Socket;
  readonly received: Received = { partials: [], finals: [], errors: [], notices: [], ended: [] };
  sessionId?: string;
  transcriptionId?: string;

  constructor(url: string, cookie: string, headers: Record<string, string> = {}) {
    this.socket = connect(url, { extraHeaders: { ...headers, cookie }, transports: ['websocket'], reconnection: false, forceNew: true });
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

  request<T = any>(event: string, payload: unknown, timeoutMs = 30_000): Promise<T> {
    return this.socket.timeout(timeoutMs).emitWithAck(event, payload) as Promise<T>;
  }

  async start(payload: Record<string, unknown> = { audio: { encoding: 'pcm_s16le', sampleRate: 16000 } }) {
    await this.connected();
    const res = await this.request('session:start', payload);
    if (res.ok) {
      this.sessionId = res.sessionId;
      this.transcriptionId = res.transcriptionId;
    }
    return res;
  }

  chunk(seq: number, data: Buffer) {
    return this.request('audio:chunk', { sessionId: this.sessionId, seq, data });
  }

  /** Sends every chunk in order with at most `inFlight` unacknowledged; returns the last ack. */
  async stream(chunks: Buffer[], opts: { inFlight?: number; firstSeq?: number; realTimeMsPerChunk?: number } = {}) {
    const inFlight = opts.inFlight ?? 8;
    const first = opts.firstSeq ?? 0;
    let next = 0;
    let last: any;
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
    return last;
  }

  stop(timeoutMs = 60_000) {
    return this.request('session:stop', { sessionId: this.sessionId }, timeoutMs);
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
