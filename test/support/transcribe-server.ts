/**
 * A local stand-in for Amazon Transcribe Medical streaming: a cleartext HTTP/2 server that speaks
 * the real protocol (REST-JSON headers + AWS event-stream frames), so the real
 * `@aws-sdk/client-transcribe-streaming` talks to it with `endpoint: server.url` (or
 * AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING) and any fake credentials.
 *
 * It decodes the signed AudioEvents, and answers with a scripted transcript paced by the *speech*
 * it receives (frames of digital silence advance time but add no words): every `partialEveryMs` of
 * audio a partial of the open segment, a final when a segment has `wordsPerSegment` words, the last
 * final when the client ends its stream. Faults can be set before or during a stream (see
 * {@link TranscribeFaults}); everything received is recorded in `requests`.
 *
 * With `keyed: true` it hears words in the audio itself, as a real engine does: audio made by
 * {@link keyedSpeechPcm} carries word k of the script as a square wave whose amplitude encodes k.
 * Every stream then transcribes the same stretch of audio to the same words, wherever in the
 * session it starts, so a test can compare the stored transcript with the script word for word
 * across reconnects, failovers and repairs (`scriptWords(n)` is the expected text).
 *
 * `MediaEncoding: ogg-opus` is accepted as the real service accepts it: every AudioEvent must hold
 * whole Ogg pages of one logical Opus stream (capture pattern, version, CRC, serial, consecutive page
 * numbers, OpusHead on the BOS page then OpusTags, and each audio page's granule position the sum of
 * its packets' durations); the audio is decoded (opus-decoder, 16 kHz) and heard like PCM. A stream
 * that breaks any rule ends with BadRequestException; what was found is in `requests[i].ogg`.
 *
 * Usage:
 *   const server = await startTranscribeServer({ script: 'the patient reports chest pain' });
 *   const client = new TranscribeStreamingClient({ region: 'us-east-1', endpoint: server.url,
 *     credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
 *   server.setFaults({ exceptionAfterAudioMs: { ms: 2000, type: 'InternalFailureException' } });
 *   ...; server.requests[0].audioBytes; await server.close();
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { EventStreamCodec, type Message, type MessageHeaders } from '@smithy/core/event-streams';
import { OpusDecoder } from 'opus-decoder';
import { oggCrc } from '../../src/audio/ogg-demuxer.js';
import { opusPacketSamples48k } from '../../src/audio/opus-packet.js';
import type { VocabularyStandIn } from './transcribe-vocabularies.js';

export interface TranscribeFaults {
  /** Refuse the request: e.g. `{ status: 400, type: 'BadRequestException' }`, `{ status: 429, type: 'LimitExceededException' }`. */
  rejectStart?: { status: number; type: string; message?: string; /** Answer this much later (a slow refusal). */ delayMs?: number };
  /** Send an exception event once this much audio was received (results before it are delivered). */
  exceptionAfterAudioMs?: { ms: number; type: string; message?: string };
  /** Destroy the HTTP/2 session without a word once this much audio was received. */
  dropAfterAudioMs?: number;
  /** Stop answering (no events, no end) once this much audio was received; the connection stays open. */
  stallAfterAudioMs?: number;
  /** The mid-stream faults above fire once: the first stream that trips one clears every fault. */
  once?: boolean;
}

export interface TranscribeServerOptions {
  /** Listen port (0 = any free port). */
  port?: number;
  /** Words the "speaker" says, repeated as needed. */
  script?: string;
  /** Words heard per second of speech audio. */
  wordsPerSecond?: number;
  wordsPerSegment?: number;
  partialEveryMs?: number;
  /** Like the real service: end the stream with BadRequestException after this long without audio. */
  idleTimeoutMs?: number;
  /**
   * `speech` (default): only non-silent audio advances the script, result times are speech time.
   * `audio`: every frame advances it, so a result's EndTime is the audio position it was sent at
   * (the benchmark measures caption latency against that position).
   */
  timeline?: 'speech' | 'audio';
  /** A fixed engine latency: every event (and the end of the stream) is sent this much later. */
  resultDelayMs?: number;
  /** Words are read from the audio ({@link keyedSpeechPcm}), not counted from the stream's start. */
  keyed?: boolean;
  /**
   * Words reported as PHI entities (`Category: PHI`; Transcribe Medical's MedicalEntity has no finer
   * type) when the request asks for `ContentIdentificationType=PHI`, as the real service does.
   */
  phiWords?: string[];
  /**
   * The custom-vocabulary stand-in (transcribe-vocabularies.ts): a stream naming a vocabulary it
   * does not hold READY is refused with BadRequestException, as the real service refuses it.
   */
  vocabularies?: Pick<VocabularyStandIn, 'usable'>;
  /** Confidence of the word at index i of the script (default 0.9 for every word). */
  confidenceAt?: (i: number) => number;
  /**
   * `false`: Ogg Opus is checked page by page as always, but heard as silence as long as each
   * packet says it lasts, not decoded. For the benchmark (with `timeline: 'audio'`, where only
   * durations count): the stand-in is a remote service, and its WASM decoding (about 0.15 core at
   * 100 streams, and 100 decoders instantiated in the first second) would otherwise run on the
   * cores of the service it measures. Default `true`.
   */
  decodeOpus?: boolean;
}

/** The default script of the stand-in. */
export const DEFAULT_SCRIPT = 'the patient reports intermittent chest pain radiating to the left arm since yesterday evening';
const KEY_BASE = 1000;
const KEY_STEP = 8;
const KEY_MAX = Math.floor((32000 - KEY_BASE) / KEY_STEP);

/**
 * Audio for `keyed` mode: `words` words of `msPerWord` each, word k a square wave (period 4
 * samples) of amplitude KEY_BASE + k·KEY_STEP. Loud enough (≥ -30 dBFS) to count as speech.
 */
export function keyedSpeechPcm(words: number, msPerWord = 400): Buffer {
  if (words > KEY_MAX) throw new Error(`at most ${KEY_MAX} keyed words`);
  const perWord = (16000 * msPerWord) / 1000;
  const out = Buffer.alloc(words * perWord * 2);
  for (let k = 0; k < words; k++) {
    const a = KEY_BASE + k * KEY_STEP;
    for (let i = 0; i < perWord; i++) out.writeInt16LE(i % 4 < 2 ? a : -a, (k * perWord + i) * 2);
  }
  return out;
}

/** The first `n` words of `script` (repeated as needed): what keyed audio of `n` words says. */
export function scriptWords(n: number, script = DEFAULT_SCRIPT): string[] {
  const words = script.split(/\s+/).filter(Boolean);
  return Array.from({ length: n }, (_, i) => words[i % words.length]!);
}

/** What one StartMedicalStreamTranscription request carried. */
export interface ReceivedRequest {
  path: string;
  languageCode?: string;
  sampleRate?: number;
  mediaEncoding?: string;
  specialty?: string;
  type?: string;
  showSpeakerLabel?: string;
  contentIdentificationType?: string;
  vocabularyName?: string;
  audioEvents: number;
  audioBytes: number;
  /** Longest wall-clock gap between two audio events, ms. */
  maxGapMs: number;
  /** The client sent its end-of-stream frame. */
  clientEnded: boolean;
  /** How the response ended: 'completed', 'exception', 'rejected', 'dropped', 'idle_timeout', 'stalled', or 'open'. */
  outcome: string;
  resultsSent: number;
  /** Wall clock (ms) the request arrived, and when its outcome was decided (undefined while open). */
  startedAt: number;
  endedAt?: number;
  /** `ogg-opus` streams: what the Ogg checker found. */
  ogg?: OggReport;
}

/** What the stand-in found in an Ogg Opus stream. */
export interface OggReport {
  pages: number;
  /** The OpusHead's channels and pre-skip, once its page arrived. */
  head?: { channels: number; preSkip: number };
  tags: boolean;
  audioPackets: number;
  /** Granule position of the last audio page. */
  granule: number;
  /** Ms of 16 kHz PCM the audio decoded to. */
  decodedMs: number;
  /** The first rule broken, if any (the stream was refused with BadRequestException). */
  error?: string;
}

/**
 * Checks an Ogg Opus stream event by event (see the header) and decodes its audio packets. Throws
 * an Error naming the rule on the first bad page.
 */
class OggOpusChecker {
  readonly report: OggReport = { pages: 0, tags: false, audioPackets: 0, granule: 0, decodedMs: 0 };
  private serial?: number;
  private seq = 0;
  private granule = 0n;
  private partial: Buffer[] = [];
  private skip16k = 0;
  /** Without a decoder each audio packet is heard as silence of its duration. */
  constructor(private readonly opus: OpusDecoder<16000> | undefined) {}

  /** One AudioEvent's bytes → the PCM its audio packets decode to. */
  push(body: Buffer): Buffer {
    const pcm: Int16Array[] = [];
    let pos = 0;
    while (pos < body.length) {
      if (body.length - pos < 27 || body.toString('latin1', pos, pos + 4) !== 'OggS') throw new Error('not an Ogg page (or a page split across events)');
      if (body[pos + 4] !== 0) throw new Error('Ogg version is not 0');
      const nseg = body[pos + 26]!;
      let len = 27 + nseg;
      for (let i = 0; i < nseg && pos + 27 + i < body.length; i++) len += body[pos + 27 + i]!;
      if (pos + len > body.length) throw new Error('Ogg page split across events');
      const page = body.subarray(pos, pos + len);
      if (oggCrc(page) !== page.readUInt32LE(22)) throw new Error('bad Ogg page CRC');
      const flags = page[5]!;
      const serial = page.readUInt32LE(14);
      if (this.serial === undefined) {
        if (!(flags & 0x02)) throw new Error('first page is not BOS');
        this.serial = serial;
      } else if (serial !== this.serial) throw new Error('second logical stream');
      else if (flags & 0x02) throw new Error('BOS flag on a later page');
      if (page.readUInt32LE(18) !== this.seq) throw new Error(`page sequence ${page.readUInt32LE(18)}, expected ${this.seq}`);
      this.seq++;
      const granule = page.readBigInt64LE(6);
      let off = 27 + nseg;
      let completed = 0;
      const granuleBefore = this.granule;
      for (let i = 0; i < nseg; i++) {
        const lace = page[27 + i]!;
        this.partial.push(page.subarray(off, off + lace));
        off += lace;
        if (lace === 255) continue;
        const packet = Buffer.concat(this.partial);
        this.partial = [];
        completed++;
        this.packet(packet, pcm);
      }
      if (this.report.pages < 2) {
        if (granule !== 0n) throw new Error('header page granule is not 0');
      } else if (completed > 0 && granule !== this.granule) {
        // RFC 7845 §4: the last (EOS) page may end short of its packets (end trimming), not before the page began.
        const endTrimmed = (flags & 0x04) !== 0 && granule < this.granule && granule >= granuleBefore;
        if (!endTrimmed) throw new Error(`granule ${granule}, packets sum to ${this.granule}`);
      } else if (completed === 0 && granule !== -1n) throw new Error('page without a completed packet has a granule');
      if (completed > 0 && this.report.pages >= 2) this.report.granule = Number(granule);
      this.report.pages++;
      pos += len;
    }
    const total = pcm.reduce((n, a) => n + a.length, 0);
    const out = Buffer.alloc(total * 2);
    let at = 0;
    for (const a of pcm) {
      out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
      at += a.byteLength;
    }
    this.report.decodedMs += total / 16;
    return out;
  }

  private packet(packet: Buffer, pcm: Int16Array[]): void {
    if (!this.report.head) {
      if (packet.length < 19 || packet.toString('latin1', 0, 8) !== 'OpusHead' || packet[8] !== 1) throw new Error('first packet is not OpusHead');
      this.report.head = { channels: packet[9]!, preSkip: packet.readUInt16LE(10) };
      this.skip16k = Math.round(this.report.head.preSkip / 3);
      return;
    }
    if (!this.report.tags) {
      if (packet.toString('latin1', 0, 8) !== 'OpusTags') throw new Error('second packet is not OpusTags');
      this.report.tags = true;
      return;
    }
    this.granule += BigInt(opusPacketSamples48k(packet));
    this.report.audioPackets++;
    if (!this.opus) {
      const samples = opusPacketSamples48k(packet) / 3;
      const start = Math.min(this.skip16k, samples);
      this.skip16k -= start;
      pcm.push(new Int16Array(samples - start));
      return;
    }
    const res = this.opus.decodeFrame(packet);
    if (res.errors.length > 0) throw new Error('Opus packet does not decode');
    const ch = res.channelData[0];
    if (!ch) return;
    const start = Math.min(this.skip16k, res.samplesDecoded);
    this.skip16k -= start;
    const out = new Int16Array(res.samplesDecoded - start);
    for (let i = 0; i < out.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(ch[start + i]! * 32768)));
    pcm.push(out);
  }
}

export interface TranscribeServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  readonly requests: ReceivedRequest[];
  /** Replaces the faults applied to new and running streams. */
  setFaults(faults: TranscribeFaults): void;
  close(): Promise<void>;
}

const utf8 = {
  to: (b: Uint8Array) => Buffer.from(b).toString('utf8'),
  from: (s: string) => new Uint8Array(Buffer.from(s, 'utf8')),
};
const codec = new EventStreamCodec(utf8.to, utf8.from);
const str = (value: string) => ({ type: 'string' as const, value });

function eventFrame(payload: unknown): Uint8Array {
  const headers: MessageHeaders = {
    ':message-type': str('event'),
    ':event-type': str('TranscriptEvent'),
    ':content-type': str('application/json'),
  };
  return codec.encode({ headers, body: utf8.from(JSON.stringify(payload)) });
}

function exceptionFrame(type: string, message: string): Uint8Array {
  const headers: MessageHeaders = {
    ':message-type': str('exception'),
    ':exception-type': str(type),
    ':content-type': str('application/json'),
  };
  return codec.encode({ headers, body: utf8.from(JSON.stringify({ Message: message })) });
}

/** Splits a byte stream into event-stream messages (4-byte big-endian total length prefix). */
class FrameReader {
  private buf = Buffer.alloc(0);
  push(chunk: Buffer): Message[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: Message[] = [];
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (this.buf.length < len) break;
      out.push(codec.decode(new Uint8Array(this.buf.subarray(0, len))));
      this.buf = this.buf.subarray(len);
    }
    return out;
  }
}

function isSilence(pcm: Uint8Array): boolean {
  const b = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  for (let i = 0; i + 1 < b.length; i += 2) if (Math.abs(b.readInt16LE(i)) > 64) return false;
  return true;
}

export async function startTranscribeServer(options: TranscribeServerOptions = {}): Promise<TranscribeServer> {
  const words = (options.script ?? DEFAULT_SCRIPT).split(/\s+/).filter(Boolean);
  const wps = options.wordsPerSecond ?? 2.5;
  const perSegment = options.wordsPerSegment ?? 6;
  const partialEvery = options.partialEveryMs ?? 300;
  const idleTimeoutMs = options.idleTimeoutMs ?? 15_000;
  const countSilence = options.timeline === 'audio';
  const delayMs = options.resultDelayMs ?? 0;
  let faults: TranscribeFaults = {};
  const requests: ReceivedRequest[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  let requestCounter = 0;

  const server = http2.createServer();
  server.on('error', () => {});
  server.on('session', (s) => {
    sessions.add(s);
    s.on('error', () => {});
    s.on('close', () => sessions.delete(s));
  });

  server.on('stream', async (stream, headers) => {
    stream.on('error', () => {});
    const h = (name: string) => {
      const v = headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const rec: ReceivedRequest = {
      path: String(h(':path')),
      ...(h('x-amzn-transcribe-language-code') ? { languageCode: h('x-amzn-transcribe-language-code')! } : {}),
      ...(h('x-amzn-transcribe-sample-rate') ? { sampleRate: Number(h('x-amzn-transcribe-sample-rate')) } : {}),
      ...(h('x-amzn-transcribe-media-encoding') ? { mediaEncoding: h('x-amzn-transcribe-media-encoding')! } : {}),
      ...(h('x-amzn-transcribe-specialty') ? { specialty: h('x-amzn-transcribe-specialty')! } : {}),
      ...(h('x-amzn-transcribe-type') ? { type: h('x-amzn-transcribe-type')! } : {}),
      ...(h('x-amzn-transcribe-show-speaker-label') ? { showSpeakerLabel: h('x-amzn-transcribe-show-speaker-label')! } : {}),
      ...(h('x-amzn-transcribe-content-identification-type') ? { contentIdentificationType: h('x-amzn-transcribe-content-identification-type')! } : {}),
      ...(h('x-amzn-transcribe-vocabulary-name') ? { vocabularyName: h('x-amzn-transcribe-vocabulary-name')! } : {}),
      audioEvents: 0,
      audioBytes: 0,
      maxGapMs: 0,
      clientEnded: false,
      outcome: 'open',
      resultsSent: 0,
      startedAt: Date.now(),
    };
    requests.push(rec);
    const reqNo = ++requestCounter;

    if (faults.rejectStart) {
      const { status, type, message, delayMs: refuseAfterMs } = faults.rejectStart;
      rec.outcome = 'rejected';
      stream.resume();
      setTimeout(() => {
        rec.endedAt = Date.now();
        if (stream.destroyed) return;
        stream.respond({ ':status': status, 'content-type': 'application/json', 'x-amzn-errortype': `${type}:`, 'x-amzn-requestid': `req-${reqNo}` });
        stream.end(JSON.stringify({ Message: message ?? `${type} from the test server` }));
      }, refuseAfterMs ?? 0);
      return;
    }
    if (rec.vocabularyName !== undefined && options.vocabularies && !options.vocabularies.usable(rec.vocabularyName)) {
      rec.outcome = 'rejected';
      rec.endedAt = Date.now();
      stream.respond({ ':status': 400, 'content-type': 'application/json', 'x-amzn-errortype': 'BadRequestException:' });
      stream.end(JSON.stringify({ Message: 'The requested vocabulary could not be found or is not ready.' }));
      stream.resume();
      return;
    }
    if (rec.path !== '/medical-stream-transcription' || rec.sampleRate === undefined || rec.sampleRate < 16000 || rec.sampleRate > 48000) {
      rec.outcome = 'rejected';
      stream.respond({ ':status': 400, 'content-type': 'application/json', 'x-amzn-errortype': 'BadRequestException:' });
      stream.end(JSON.stringify({ Message: 'invalid request for the test server' }));
      stream.resume();
      return;
    }
    stream.respond({
      ':status': 200,
      'content-type': 'application/vnd.amazon.eventstream',
      'x-amzn-request-id': `req-${reqNo}`,
      'x-amzn-transcribe-session-id': `session-${reqNo}`,
      'x-amzn-transcribe-language-code': rec.languageCode ?? 'en-US',
      'x-amzn-transcribe-sample-rate': String(rec.sampleRate),
      'x-amzn-transcribe-media-encoding': rec.mediaEncoding ?? 'pcm',
      ...(rec.specialty ? { 'x-amzn-transcribe-specialty': rec.specialty } : {}),
      ...(rec.type ? { 'x-amzn-transcribe-type': rec.type } : {}),
    });

    const opusDecoder = rec.mediaEncoding === 'ogg-opus' && options.decodeOpus !== false ? new OpusDecoder({ sampleRate: 16000, channels: 1 }) : undefined;
    const ogg = rec.mediaEncoding === 'ogg-opus' ? new OggOpusChecker(opusDecoder) : undefined;
    if (ogg) rec.ogg = ogg.report;
    // Ogg Opus is heard as the 16 kHz PCM it decodes to.
    const bytesPerMs = ogg ? 32 : (rec.sampleRate * 2) / 1000;
    let audioMs = 0;
    let speechMs = 0;
    let segment = 0;
    let lastPartialAt = 0;
    let lastPartialText = '';
    let lastEventAt = Date.now();
    let done = false;
    const reader = new FrameReader();
    const speakerOf = (seg: number) => (rec.type === 'CONVERSATION' ? String(seg % 2) : undefined);

    const wordAt = (i: number) => words[i % words.length]!;
    const heard = () => Math.floor((speechMs / 1000) * wps);
    const result = (seg: number, upto: number, partial: boolean) => {
      const from = seg * perSegment;
      const items = [];
      for (let i = from; i < upto; i++) {
        const speaker = speakerOf(seg);
        items.push({ Type: 'pronunciation', Content: wordAt(i), StartTime: i / wps, EndTime: (i + 1) / wps, Confidence: options.confidenceAt?.(i) ?? 0.9, ...(speaker ? { Speaker: speaker } : {}) });
      }
      const entities =
        rec.contentIdentificationType === 'PHI' && !partial
          ? items
              .filter((i) => options.phiWords?.includes(i.Content))
              .map((i) => ({ Category: 'PHI', Content: i.Content, StartTime: i.StartTime, EndTime: i.EndTime, Confidence: 0.95 }))
          : [];
      const text = items.map((i) => i.Content).join(' ');
      return {
        text,
        event: {
          Transcript: {
            Results: [{ ResultId: `result-${reqNo}-${seg}`, IsPartial: partial, StartTime: from / wps, EndTime: upto / wps, Alternatives: [{ Transcript: text, Items: items, Entities: entities }] }],
          },
        },
      };
    };
    const send = (frame: Uint8Array) => {
      if (done || stream.destroyed) return;
      if (delayMs > 0) {
        setTimeout(() => {
          if (!stream.destroyed) stream.write(frame);
        }, delayMs);
      } else stream.write(frame);
    };
    const finish = (outcome: string) => {
      if (done) return;
      rec.outcome = outcome;
      rec.endedAt = Date.now();
      done = true;
      clearInterval(idleTimer);
      // Same delay as the events, so the end never overtakes them.
      if (delayMs > 0) {
        setTimeout(() => {
          if (!stream.destroyed) stream.end();
        }, delayMs);
      } else if (!stream.destroyed) stream.end();
    };
    const emitProgress = () => {
      const n = heard();
      while (n >= (segment + 1) * perSegment) {
        send(eventFrame(result(segment, (segment + 1) * perSegment, false).event));
        rec.resultsSent++;
        segment++;
        lastPartialText = '';
      }
      if (audioMs - lastPartialAt >= partialEvery && n > segment * perSegment) {
        lastPartialAt = audioMs;
        const r = result(segment, n, true);
        if (r.text !== lastPartialText) {
          lastPartialText = r.text;
          send(eventFrame(r.event));
          rec.resultsSent++;
        }
      }
    };
    // Keyed mode: runs of equal amplitude are words; a run of at least half a word counts.
    const minRun = (16000 / wps) / 2;
    let samples = 0;
    let runKey = -1;
    let runStart = 0;
    let keyedSegment: Array<{ key: number; start: number; end: number }> = [];
    let keyedSeg = 0;
    const sendKeyed = (partial: boolean) => {
      const items = keyedSegment.map((w) => ({ Type: 'pronunciation', Content: wordAt(w.key), StartTime: w.start / 16000, EndTime: w.end / 16000, Confidence: 0.9 }));
      const first = keyedSegment[0]!;
      const last = keyedSegment.at(-1)!;
      const text = items.map((i) => i.Content).join(' ');
      send(eventFrame({ Transcript: { Results: [{ ResultId: `result-${reqNo}-${keyedSeg}`, IsPartial: partial, StartTime: first.start / 16000, EndTime: last.end / 16000, Alternatives: [{ Transcript: text, Items: items, Entities: [] }] }] } }));
      rec.resultsSent++;
      if (!partial) {
        keyedSegment = [];
        keyedSeg++;
      }
    };
    const closeWord = () => {
      if (runKey >= 0 && samples - runStart >= minRun) {
        keyedSegment.push({ key: runKey, start: runStart, end: samples });
        sendKeyed(keyedSegment.length < perSegment);
      }
      runKey = -1;
    };
    const hearKeyed = (pcm: Uint8Array) => {
      const b = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
      for (let i = 0; i + 1 < b.length; i += 2, samples++) {
        const v = Math.abs(b.readInt16LE(i));
        const key = v > 64 ? Math.round((v - KEY_BASE) / KEY_STEP) : -1;
        if (key === runKey) continue;
        closeWord();
        runKey = key;
        runStart = samples;
      }
    };
    const idleTimer = setInterval(() => {
      if (!done && !rec.clientEnded && Date.now() - lastEventAt > idleTimeoutMs) {
        send(exceptionFrame('BadRequestException', `Your request timed out because no new audio was received for ${idleTimeoutMs / 1000} seconds.`));
        finish('idle_timeout');
      }
    }, Math.min(1000, idleTimeoutMs / 4));

    if (opusDecoder) await opusDecoder.ready;
    stream.on('data', (chunk: Buffer) => {
      if (done) return;
      for (const outer of reader.push(chunk)) {
        // The SDK signs each event: the outer frame's body is the inner AudioEvent frame.
        if (outer.body.length === 0) {
          rec.clientEnded = true;
          continue;
        }
        const inner = codec.decode(outer.body);
        if (inner.headers[':event-type']?.value !== 'AudioEvent') continue;
        const now = Date.now();
        if (rec.audioEvents > 0) rec.maxGapMs = Math.max(rec.maxGapMs, now - lastEventAt);
        lastEventAt = now;
        rec.audioEvents++;
        rec.audioBytes += inner.body.length;
        let audio: Uint8Array = inner.body;
        if (ogg) {
          try {
            audio = ogg.push(Buffer.from(inner.body.buffer, inner.body.byteOffset, inner.body.byteLength));
          } catch (err) {
            ogg.report.error = (err as Error).message;
            send(exceptionFrame('BadRequestException', `Invalid Ogg Opus: ${ogg.report.error}`));
            finish('exception');
            return;
          }
        }
        const ms = audio.length / bytesPerMs;
        audioMs += ms;
        if (countSilence || !isSilence(audio)) speechMs += ms;
        const f = faults;
        if (f.stallAfterAudioMs !== undefined && audioMs >= f.stallAfterAudioMs) {
          rec.outcome = 'stalled';
          rec.endedAt = Date.now();
          if (f.once) faults = {};
          done = true;
          clearInterval(idleTimer);
          return;
        }
        if (f.dropAfterAudioMs !== undefined && audioMs >= f.dropAfterAudioMs) {
          rec.outcome = 'dropped';
          rec.endedAt = Date.now();
          if (f.once) faults = {};
          done = true;
          clearInterval(idleTimer);
          stream.session?.destroy();
          return;
        }
        if (f.exceptionAfterAudioMs && audioMs >= f.exceptionAfterAudioMs.ms) {
          if (f.once) faults = {};
          send(exceptionFrame(f.exceptionAfterAudioMs.type, f.exceptionAfterAudioMs.message ?? 'injected by the test server'));
          finish('exception');
          return;
        }
        if (options.keyed) hearKeyed(audio);
        else emitProgress();
      }
    });
    stream.on('end', () => {
      rec.clientEnded = true;
      if (done) return;
      if (options.keyed) {
        closeWord();
        if (keyedSegment.length > 0) sendKeyed(false);
        finish('completed');
        return;
      }
      const n = heard();
      if (n > segment * perSegment) {
        send(eventFrame(result(segment, n, false).event));
        rec.resultsSent++;
      }
      finish('completed');
    });
    stream.on('close', () => {
      clearInterval(idleTimer);
      opusDecoder?.free();
      if (!done) {
        done = true;
        if (rec.outcome === 'open') rec.outcome = 'client_closed';
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setFaults(f) {
      faults = f;
    },
    async close() {
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
