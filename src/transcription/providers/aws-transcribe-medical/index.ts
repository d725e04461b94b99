/**
 * Amazon Transcribe Medical streaming behind the engine port.
 *
 * Why this file is over 300 lines: `AwsStream` is one bidirectional HTTP/2 stream whose two
 * directions share state: audio out (the queue, events of up to 500 ms, keep-alive silence when
 * nothing is written) and results in (the pump), where every time is mapped back through the
 * silence that was injected; `end` closes the input and waits for the pump. The result mapping
 * (`words`, `phi`, `mainSpeaker`, about 50 lines) is what could stand alone; it stays here while
 * the Ogg Opus input (#15, TRANSCRIBE_AUDIO) is being added to this class by another change.
 */
import type { MedicalTranscriptResultStream, TranscribeStreamingClient } from '@aws-sdk/client-transcribe-streaming';
import { randomInt } from 'node:crypto';
import { pcmMs } from '../../../audio/pcm.js';
import type { Logger } from '../../../lib/logger.js';
import { OggOpusWriter } from '../../../audio/ogg-opus.js';
import {
  ProviderError,
  type OpusStreamHead,
  type OpusStreamPacket,
  type PhiEntity,
  type StreamOptions,
  type TranscriptionEngine,
  type TranscriptionStream,
  type TranscriptResult,
  type Word,
} from '../../port.js';
import { ResultQueue } from '../../result-queue.js';
import { awsClientConfig } from './client-config.js';
import { toProviderError } from './errors.js';

export { toProviderError } from './errors.js';

export interface AwsTranscribeMedicalOptions {
  region: string;
  /** Overrides the endpoint (tests); the SDK also honours AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING. */
  endpoint?: string;
  /** Explicit credentials (tests); otherwise the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * Transcribe ends a stream after ~15 s without audio. When nothing was written for this long, a
   * 100 ms silence frame is sent (and repeated at this interval). Default 5000.
   */
  keepAliveAfterMs?: number;
  /**
   * How long `start()` waits for the service to refuse the stream (400/429 come back at once) before
   * returning it; a later refusal fails the stream's iteration instead. Default 500.
   */
  startWindowMs?: number;
  /** How long `end()` waits for the service to finish after the last audio. Default 15000. */
  endTimeoutMs?: number;
  /**
   * TRANSCRIBE_AUDIO: `opus` lets a stream started with `input: 'ogg-opus'` send the session's Opus
   * packets as Ogg Opus (`MediaEncoding: ogg-opus`) instead of 16 kHz PCM. Default `pcm`.
   */
  audio?: 'pcm' | 'opus';
}

const SILENCE = Buffer.alloc(3200); // 100 ms at 16 kHz
/**
 * 100 ms of Opus silence for the keep-alive of an Ogg Opus stream: five 20 ms CELT frames of the
 * packet encoders send for digital silence (TOC 0xF8: CELT fullband 20 ms mono, one frame).
 */
const OPUS_SILENCE: OpusStreamPacket[] = Array.from({ length: 5 }, () => ({ data: Uint8Array.of(0xf8, 0xff, 0xfe), samples48k: 960 }));
/** The OpusHead of a keep-alive sent before the session's first packet told us its own. */
const DEFAULT_OPUS_HEAD: OpusStreamHead = { channels: 1, preSkip: 0, inputSampleRate: 48000 };
/**
 * At most 500 ms of 16 kHz audio per AudioEvent: every frame of one client chunk (250 ms = 2–3 frames
 * of 100 ms) fits in one event. At 8,000 bytes a 3-frame chunk took two, 1.5 events per chunk on
 * average, each signed, CRC'd and written to the HTTP/2 stream. Transcribe's limit is 1 s per
 * AudioChunk (API_streaming_AudioEvent: 32,000 bytes at 16 kHz mono).
 */
const MAX_EVENT_BYTES = 16_000;

/**
 * One view of `parts` when they lie back to back in one ArrayBuffer (the framer's frames of one
 * chunk: views of the chunk's PCM, which nobody changes once written), else undefined. Spares a copy
 * of every PCM byte on the way to the SDK, which copies it into the event once more anyway.
 */
export function contiguous(parts: readonly Buffer[], bytes: number): Buffer | undefined {
  const first = parts[0]!;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.buffer !== first.buffer || p.byteOffset !== end) return undefined;
    end += p.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, bytes);
}

type Sdk = typeof import('@aws-sdk/client-transcribe-streaming');

/**
 * Amazon Transcribe Medical streaming behind the port. The SDK loads and the client is created on
 * the first `start()`/`check()`, not at import. `start()` rejects with {@link ProviderError} when the
 * service refuses the stream; a stream that fails later (exception event, dropped connection, or an
 * end before the end of audio) throws a ProviderError from iteration after the results before it.
 */
export function createAwsTranscribeMedicalEngine(options: AwsTranscribeMedicalOptions, logger: Logger): TranscriptionEngine {
  const log = logger.child({ engine: 'aws' });
  let loading: Promise<{ sdk: Sdk; client: TranscribeStreamingClient }> | undefined;
  const active = new Set<{ abort(reason?: Error): void }>();

  const clientOnce = () => {
    loading ??= import('@aws-sdk/client-transcribe-streaming').then((sdk) => ({ sdk, client: new sdk.TranscribeStreamingClient(awsClientConfig(options, log)) }));
    return loading;
  };

  const acceptsOpus = options.audio === 'opus';
  return {
    name: 'aws',
    acceptsOpus,
    async start(requested: StreamOptions): Promise<TranscriptionStream> {
      // PCM unless this engine was configured for Opus: an `ogg-opus` request to a PCM engine is a
      // caller's mistake that would otherwise surface as audio the service cannot decode.
      if (requested.input === 'ogg-opus' && !acceptsOpus) throw new ProviderError('Transcribe Medical: configured for PCM (TRANSCRIBE_AUDIO=pcm)', { retryable: false, code: 'opus_not_enabled' });
      const opts = requested;
      const { sdk, client } = await clientOnce();
      const open = async (o: StreamOptions) => {
        const stream = new AwsStream(o, options, log);
        active.add(stream);
        stream.onDone = () => active.delete(stream);
        try {
          await stream.open(sdk, client);
        } catch (err) {
          active.delete(stream);
          throw err;
        }
        return stream;
      };
      try {
        return await open(opts);
      } catch (err) {
        // A vocabulary READY when the session began can be PENDING again by a reconnect (an admin
        // updated it) or gone: Transcribe refuses the stream (BadRequestException). A vocabulary
        // improves a transcript; it must not stop one. Once more, without it.
        if (!opts.vocabulary?.name || (err as ProviderError).code !== 'BadRequestException') throw err;
        log.warn({ sessionId: opts.sessionId }, 'transcribe_vocabulary_refused');
        return open({ ...opts, vocabulary: { terms: opts.vocabulary.terms } });
      }
    },
    async check(): Promise<void> {
      // Loads the SDK and resolves credentials; no stream is opened (that would be billed).
      const { client } = await clientOnce();
      try {
        await client.config.credentials();
      } catch (err) {
        throw new ProviderError('Transcribe Medical: no usable AWS credentials', { retryable: false, code: 'credentials', cause: err });
      }
    },
    async close(): Promise<void> {
      for (const s of [...active]) s.abort(new Error('engine closed'));
      if (loading) (await loading).client.destroy();
      loading = undefined;
    },
  };
}

class AwsStream implements TranscriptionStream {
  private readonly queue = new ResultQueue<TranscriptResult>();
  private readonly controller = new AbortController();
  private readonly audio: Buffer[] = [];
  /** Ogg Opus input (`input: 'ogg-opus'`): the page writer, made with the first packets' head. */
  private readonly opus: boolean;
  private ogg?: OggOpusWriter;
  private oggHead?: OpusStreamHead;
  private wakeAudio: (() => void) | undefined;
  private inputEnded = false;
  /** The SDK has taken every queued chunk and the end of input. */
  private inputDrained = false;
  private aborted = false;
  private lastWriteAt = Date.now();
  /** Bytes handed to the SDK so far, and where (in stream ms) silence was injected, to map times back. */
  private sentMs = 0;
  private readonly injected: Array<{ atMs: number; ms: number }> = [];
  private readonly done: Promise<void>;
  private markDone!: () => void;
  onDone: () => void = () => {};

  constructor(
    private readonly opts: StreamOptions,
    private readonly engineOpts: AwsTranscribeMedicalOptions,
    private readonly log: Logger,
  ) {
    this.done = new Promise((r) => (this.markDone = r));
    this.opus = opts.input === 'ogg-opus';
  }

  async open(sdk: Sdk, client: TranscribeStreamingClient): Promise<void> {
    const command = new sdk.StartMedicalStreamTranscriptionCommand({
      LanguageCode: 'en-US',
      // Ogg Opus is decoded by the service at its own rate: the sample rate is the 48 kHz Opus
      // always decodes to (Transcribe accepts 16-48 kHz for ogg-opus).
      ...(this.opus ? { MediaEncoding: 'ogg-opus' as const, MediaSampleRateHertz: 48000 } : { MediaEncoding: 'pcm' as const, MediaSampleRateHertz: 16000 }),
      Specialty: this.opts.specialty,
      Type: this.opts.type,
      ...(this.opts.type === 'CONVERSATION' ? { ShowSpeakerLabel: true } : {}),
      // Entity spans of protected health information in every final (review redacts them).
      ContentIdentificationType: 'PHI',
      // The specialty's custom vocabulary, named only once Transcribe reported it READY (a stream
      // naming one that is not is refused with BadRequestException).
      ...(this.opts.vocabulary?.name ? { VocabularyName: this.opts.vocabulary.name } : {}),
      AudioStream: this.audioEvents(),
    });
    // send() resolves only when the first result arrives, which needs audio the caller writes after
    // start() returns. A refusal (400, 429, bad credentials) comes back at once, without audio: wait
    // a short window for one, then hand the stream over and let the response arrive in the background.
    const sending = client.send(command, { abortSignal: this.controller.signal });
    let timer: NodeJS.Timeout | undefined;
    const windowOver = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), this.engineOpts.startWindowMs ?? 500)));
    let early;
    try {
      early = await Promise.race([sending, windowOver]);
    } catch (err) {
      this.stopInput();
      throw toProviderError(err);
    } finally {
      clearTimeout(timer);
    }
    if (early) this.consume(early.TranscriptResultStream);
    else {
      sending.then(
        (response) => this.consume(response.TranscriptResultStream),
        // An HTTP error status is a refusal of the stream that came later than the start window;
        // an exception event before the first result rejects here too, but without a status.
        (err: unknown) => this.finishWith(err, ((err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode ?? 0) >= 400),
      );
    }
  }

  private consume(results: AsyncIterable<MedicalTranscriptResultStream> | undefined): void {
    if (!results) {
      this.finishWith(new ProviderError('Transcribe Medical: response has no result stream', { retryable: true, code: 'no_result_stream' }));
      return;
    }
    void this.pump(results);
  }

  /** Ends the stream with a failure before any result stream existed. */
  private finishWith(err: unknown, refusedAtOpen = false): void {
    if (!this.aborted) {
      let pe = toProviderError(err);
      if (refusedAtOpen) pe = new ProviderError(pe.message, { ...pe.options, refusedAtOpen: true });
      this.log.warn({ sessionId: this.opts.sessionId, code: pe.code, retryable: pe.retryable }, 'transcribe_stream_failed');
      this.queue.fail(pe);
    }
    this.stopInput();
    this.markDone();
    this.onDone();
  }

  [Symbol.asyncIterator](): AsyncIterator<TranscriptResult> {
    return this.queue[Symbol.asyncIterator]();
  }

  write(pcm: Buffer): void {
    if (this.inputEnded || this.aborted || pcm.length === 0) return;
    if (this.opus) throw new Error('a stream started with input ogg-opus takes writeOpus, not write');
    this.audio.push(pcm);
    this.lastWriteAt = Date.now();
    this.wakeAudio?.();
  }

  /**
   * One client chunk's packets as Ogg pages (the OpusHead and OpusTags pages first), queued as one
   * audio event: the pages are whole, so the service never sees a page split across events.
   */
  writeOpus(packets: readonly OpusStreamPacket[], head: OpusStreamHead): void {
    if (this.inputEnded || this.aborted || packets.length === 0) return;
    if (!this.opus) throw new Error('writeOpus needs a stream started with input ogg-opus');
    this.audio.push(this.oggPages(packets, head));
    this.lastWriteAt = Date.now();
    this.wakeAudio?.();
  }

  /** Pages of `packets`, after the header pages when the stream has none yet; counts their time. */
  private oggPages(packets: readonly OpusStreamPacket[], head: OpusStreamHead): Buffer {
    let headers: Buffer | undefined;
    if (!this.ogg) {
      this.oggHead = head;
      this.ogg = new OggOpusWriter({ channels: head.channels, preSkip: head.preSkip, inputSampleRate: head.inputSampleRate }, randomInt(1, 0x7fffffff));
      headers = this.ogg.headers();
    }
    const body = this.ogg.packets(packets);
    return headers ? Buffer.concat([headers, body]) : body;
  }

  async end(): Promise<void> {
    if (!this.inputEnded) this.stopInput();
    const timeoutMs = this.engineOpts.endTimeoutMs ?? 15_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const outcome = await Promise.race([this.done.then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.log.warn({ sessionId: this.opts.sessionId }, 'transcribe_stream_unfinished');
      this.queue.fail(new ProviderError('Transcribe Medical: no end of stream after the last audio', { retryable: true, code: 'end_timeout' }));
      this.controller.abort();
    }
    await this.queue.settled();
  }

  abort(reason?: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.stopInput();
    this.queue.abort();
    this.controller.abort(reason);
    this.markDone();
  }

  private stopInput(): void {
    this.inputEnded = true;
    this.wakeAudio?.();
  }

  /** The SDK's input: queued audio, with silence while nothing arrives, until end/abort. */
  private async *audioEvents(): AsyncGenerator<{ AudioEvent: { AudioChunk: Uint8Array } }> {
    const keepAlive = this.engineOpts.keepAliveAfterMs ?? 5000;
    for (;;) {
      if (this.audio.length > 0) {
        // Frames that queued up while the SDK was busy go out as one event (up to MAX_EVENT_BYTES):
        // each event is signed, framed with CRCs and written to the HTTP/2 stream, so under load this
        // halves the per-frame cost without delaying any audio.
        const chunk = this.takeQueued();
        this.sentMs = this.opus ? this.oggMs() : this.sentMs + pcmMs(chunk.length);
        yield { AudioEvent: { AudioChunk: chunk } };
        continue;
      }
      if (this.inputEnded) {
        this.inputDrained = true;
        return;
      }
      const waitMs = Math.max(0, this.lastWriteAt + keepAlive - Date.now());
      const woke = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), waitMs);
        this.wakeAudio = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      this.wakeAudio = undefined;
      if (!woke && !this.inputEnded && this.audio.length === 0) {
        const silence = this.opus ? this.oggPages(OPUS_SILENCE, this.oggHead ?? DEFAULT_OPUS_HEAD) : SILENCE;
        const ms = this.opus ? this.oggMs() - this.sentMs : pcmMs(SILENCE.length);
        this.injected.push({ atMs: this.sentMs, ms });
        this.sentMs += ms;
        this.lastWriteAt = Date.now();
        yield { AudioEvent: { AudioChunk: silence } };
      }
    }
  }

  /** Ms of Ogg Opus audio paged so far, as the service times it (after the pre-skip). */
  private oggMs(): number {
    if (!this.ogg) return 0;
    return Math.max(0, Number(this.ogg.granulePosition) - (this.oggHead?.preSkip ?? 0)) / 48;
  }

  private takeQueued(): Buffer {
    let n = 0;
    let bytes = 0;
    while (n < this.audio.length && (n === 0 || bytes + this.audio[n]!.length <= MAX_EVENT_BYTES)) bytes += this.audio[n++]!.length;
    const parts = this.audio.splice(0, n);
    return n === 1 ? parts[0]! : (contiguous(parts, bytes) ?? Buffer.concat(parts, bytes));
  }

  /** Service time (ms of audio it received) → ms of the audio written to this stream. */
  private toStreamMs(serviceMs: number): number {
    let t = serviceMs;
    for (const s of this.injected) {
      if (s.atMs >= serviceMs) break;
      t -= Math.min(s.ms, serviceMs - s.atMs);
    }
    return Math.max(0, Math.round(t));
  }

  /** Pronunciation items as words, with Transcribe's confidence (0..1) and stream times. */
  private words(items: ReadonlyArray<{ Type?: string; Content?: string; StartTime?: number; EndTime?: number; Confidence?: number }>): Word[] {
    const out: Word[] = [];
    for (const i of items) {
      if (i.Type !== 'pronunciation' || !i.Content) continue;
      out.push({
        text: i.Content,
        startMs: this.toStreamMs((i.StartTime ?? 0) * 1000),
        endMs: this.toStreamMs((i.EndTime ?? 0) * 1000),
        ...(typeof i.Confidence === 'number' ? { confidence: i.Confidence } : {}),
      });
    }
    return out;
  }

  /** PHI entities (ContentIdentificationType=PHI) with stream times. */
  private phi(entities: ReadonlyArray<{ Category?: string; Content?: string; StartTime?: number; EndTime?: number; Confidence?: number }>): PhiEntity[] {
    // MedicalEntity carries only the category; review classifies the content (name, date…) by rules.
    return entities
      .filter((e) => e.Category === 'PHI' && e.Content)
      .map((e) => ({
        type: 'PHI',
        content: e.Content!,
        startMs: this.toStreamMs((e.StartTime ?? 0) * 1000),
        endMs: this.toStreamMs((e.EndTime ?? 0) * 1000),
        ...(typeof e.Confidence === 'number' ? { confidence: e.Confidence } : {}),
      }));
  }

  private async pump(results: AsyncIterable<MedicalTranscriptResultStream>): Promise<void> {
    try {
      for await (const event of results) {
        if (this.aborted) break;
        for (const r of event.TranscriptEvent?.Transcript?.Results ?? []) {
          const alt = r.Alternatives?.[0];
          if (!alt || r.ResultId === undefined) continue;
          const speaker = this.opts.type === 'CONVERSATION' ? mainSpeaker(alt.Items ?? []) : undefined;
          const words = r.IsPartial ? [] : this.words(alt.Items ?? []);
          const phi = r.IsPartial ? [] : this.phi(alt.Entities ?? []);
          this.queue.push({
            kind: r.IsPartial ? 'partial' : 'final',
            segmentId: r.ResultId,
            text: alt.Transcript ?? '',
            startMs: this.toStreamMs((r.StartTime ?? 0) * 1000),
            endMs: this.toStreamMs((r.EndTime ?? 0) * 1000),
            ...(speaker !== undefined ? { speaker } : {}),
            ...(words.length ? { words } : {}),
            ...(phi.length ? { phi } : {}),
          });
        }
      }
      if (this.aborted) {
        // abort() already ended the queue.
      } else if (!this.inputDrained) {
        // A dropped HTTP/2 session, a timeout or an abort ends the SDK's loop without an error.
        this.log.warn({ sessionId: this.opts.sessionId }, 'transcribe_stream_ended_early');
        this.queue.fail(new ProviderError('Transcribe Medical: stream ended before the end of audio', { retryable: true, code: 'stream_ended_early' }));
      } else this.queue.close();
      this.stopInput();
      this.markDone();
      this.onDone();
    } catch (err) {
      this.finishWith(err);
    }
  }
}

/** The speaker label on most of the result's words (Transcribe labels items, not results). */
function mainSpeaker(items: ReadonlyArray<{ Speaker?: string | undefined }>): string | undefined {
  const counts = new Map<string, number>();
  for (const i of items) if (i.Speaker !== undefined) counts.set(i.Speaker, (counts.get(i.Speaker) ?? 0) + 1);
  let best: string | undefined;
  let n = 0;
  for (const [s, c] of counts) if (c > n) [best, n] = [s, c];
  return best;
}
