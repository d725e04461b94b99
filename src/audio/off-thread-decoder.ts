import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../lib/module-worker.js';
import { assertSupportedFormat, type AudioEncoding, createDecoder, type DecodedChunk, type DecoderOptions, type OpusHeadInfo, type OpusPacket, opusPacketSource } from './decoder.js';
import { InvalidAudioError } from './errors.js';
import type { FromOpusWorker, ToOpusWorker } from './opus-protocol.js';
import { opusPacketSamples48k } from './opus-packet.js';

/**
 * A live session's decoder: like {@link AudioDecoder}, but Opus PCM resolves later, decoded in a
 * worker thread; the packets and the OpusHead are known at once (demuxing is cheap and stays here).
 * PCM input stays synchronous (no codec: a copy, or a resampler for other rates).
 */
export interface LiveAudioDecoder {
  readonly encoding: AudioEncoding;
  /**
   * What the chunk completed: for Opus its packets and (once) the OpusHead now, its PCM as a
   * promise. Throws {@link InvalidAudioError} for a stream that does not demux; the PCM promise
   * rejects with it for packets that do not decode.
   */
  push(chunk: Buffer): DecodedChunk<Buffer | Promise<Buffer>>;
  /** End of input: the remaining PCM; frees the decoder. Idempotent. */
  end(): Buffer;
}

interface Pending {
  resolve(pcm: Buffer): void;
  reject(err: Error): void;
}

/**
 * One worker thread decoding Opus for every stream of the process. Opus decoding of a live stream
 * costs ~0.2 % of a core (docs/audio-and-engines.md): 100 streams are ~0.25 core of WASM that used to
 * run between chunk acks on the event loop (the 100-session WebM run: ack p99 329 ms, BENCHMARKS.md).
 * The worker is unref'd (it never keeps the process alive) and replaced if it dies.
 */
class OpusWorker {
  private worker?: Worker;
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;

  /** Starts the worker and compiles the WASM decoder now (service start-up), not in a session's first chunk. */
  warm(): void {
    this.close(this.open());
  }

  open(): number {
    const id = this.nextId++;
    this.post({ type: 'open', id });
    return id;
  }

  decode(id: number, seq: number, packets: readonly Uint8Array[], preSkip16k: number | undefined): Promise<Buffer> {
    // One ArrayBuffer of its own, transferred: a packet is a view into the chunk (or Node's shared
    // pool), and structured clone would copy the whole buffer behind each view.
    const lengths = packets.map((p) => p.length);
    const data = new Uint8Array(lengths.reduce((a, b) => a + b, 0));
    let at = 0;
    for (const p of packets) {
      data.set(p, at);
      at += p.length;
    }
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(`${id}:${seq}`, { resolve, reject });
      this.get().postMessage({ type: 'decode', id, seq, data: data.buffer, lengths, ...(preSkip16k !== undefined ? { preSkip16k } : {}) } satisfies ToOpusWorker, [data.buffer]);
    });
  }

  close(id: number): void {
    this.post({ type: 'close', id });
  }

  private post(m: ToOpusWorker): void {
    this.get().postMessage(m);
  }

  private get(): Worker {
    if (this.worker) return this.worker;
    const w = startModuleWorker(import.meta.url, './opus-worker');
    w.unref();
    w.on('message', (m: FromOpusWorker) => {
      const key = `${m.id}:${m.seq}`;
      const p = this.pending.get(key);
      this.pending.delete(key);
      if (!p) return;
      if (m.type === 'pcm') p.resolve(Buffer.from(m.pcm));
      else p.reject(new InvalidAudioError('Opus packet does not decode'));
    });
    const die = (): void => {
      if (this.worker !== w) return;
      this.worker = undefined;
      for (const p of this.pending.values()) p.reject(new Error('Opus decoding worker exited'));
      this.pending.clear();
    };
    w.on('error', die);
    w.on('exit', die);
    this.worker = w;
    return w;
  }
}

const EMPTY = Buffer.alloc(0);

let shared: OpusWorker | undefined;
const opusWorker = (): OpusWorker => (shared ??= new OpusWorker());

/** Starts the Opus decoding worker ahead of the first Opus session (service start-up). */
export function warmOpusWorker(): void {
  opusWorker().warm();
}

/**
 * A live session's decoder. PCM: {@link createDecoder}'s, synchronous. Opus: demuxed here (cheap,
 * synchronous: `push` returns the packets and the OpusHead), decoded in the shared worker (the
 * `pcm` promise; chunks of one stream decode in order), or not at all with `decode: false`. Throws
 * {@link UnsupportedAudioFormatError} like `createDecoder`.
 */
export async function createLiveDecoder(opts: DecoderOptions): Promise<LiveAudioDecoder> {
  if (opts.encoding === 'pcm_s16le') return createDecoder(opts);
  assertSupportedFormat(opts);
  const decode = opts.decode ?? true;
  const worker = opusWorker();
  const id = decode ? worker.open() : 0;
  let preSkipToSend: number | undefined;
  let head: OpusHeadInfo | undefined;
  let seq = 0;
  let ended = false;
  let failed: InvalidAudioError | undefined;
  const source = opusPacketSource(opts.encoding, (h) => {
    preSkipToSend = Math.round(h.preSkip / 3);
    head = h;
  });
  const fail = (err: unknown): never => {
    if (!failed && decode) worker.close(id);
    failed ??= err instanceof InvalidAudioError ? err : new InvalidAudioError('undecodable Opus stream', err);
    throw failed;
  };
  return {
    encoding: opts.encoding,
    push(chunk) {
      if (ended) throw new Error('decoder is closed');
      // Once a chunk failed to decode, a later one (queued before that was known) fails the same way.
      if (failed) throw failed;
      const packets: OpusPacket[] = [];
      try {
        for (const data of source.push(chunk)) packets.push({ data, samples48k: opusPacketSamples48k(data) });
      } catch (err) {
        return fail(err);
      }
      const out: DecodedChunk<Buffer | Promise<Buffer>> = { pcm: EMPTY, packets };
      if (head) out.head = head;
      head = undefined;
      if (packets.length === 0 || !decode) return out;
      const skip = preSkipToSend;
      preSkipToSend = undefined;
      out.pcm = worker.decode(
        id,
        seq++,
        packets.map((p) => p.data),
        skip,
      ).catch((err: unknown) => fail(err));
      return out;
    },
    end() {
      if (!ended) {
        ended = true;
        source.end();
        if (!failed && decode) worker.close(id);
      }
      return Buffer.alloc(0);
    },
  };
}

/** Bare Opus packets to 16 kHz mono s16le PCM, off the event loop, for one stream of them. */
export interface OpusPacketDecoder {
  /** The PCM of `packets` (in order after every earlier call); rejects with {@link InvalidAudioError}. */
  decode(packets: readonly Uint8Array[]): Promise<Buffer>;
  /** Frees the decoder; later decodes reject. Idempotent. */
  close(): void;
}

/**
 * A decoder of bare packets in the shared worker, with its own Opus state: the engine wrapper
 * decodes the Opus input of a session that passed it through to Transcribe (TRANSCRIBE_AUDIO=opus)
 * only for a stream of an engine that takes PCM (the offline fallback), from the packets it replays
 * on. No pre-skip is removed: the packets start mid-stream, and their PCM is exactly as long as they are.
 */
export function createOpusPacketDecoder(): OpusPacketDecoder {
  const worker = opusWorker();
  const id = worker.open();
  let seq = 0;
  let closed = false;
  return {
    decode(packets) {
      if (closed) return Promise.reject(new Error('decoder is closed'));
      return worker.decode(id, seq++, packets, undefined);
    },
    close() {
      if (closed) return;
      closed = true;
      worker.close(id);
    },
  };
}
