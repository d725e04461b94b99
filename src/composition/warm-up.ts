/**
 * Start-up warm-up: runs the code of the chunk path on synthetic audio before the service listens
 * (so before `/health` answers and the load balancer sends anyone here).
 *
 * Why: a fresh process interprets every function until V8 has seen it called often enough to
 * compile it (50 / 500 calls with src/lib/node-flags.ts). When 100 sessions start streaming together
 * on a new task (a deploy, or a takeover after a task died) every one of them runs the chunk path
 * for the first time in the same second: the decoder, the framer and level meter, the engine
 * stream's wrapper, the Transcribe SDK's event signing and marshalling, the result parsing, and each
 * of them compiles while acks wait. The first second of 100 WebM sessions had 500 of 500 acks over
 * 50 ms (2026-11-30, `acksOver50msBySecond` [500, 500, 500, 226, 0, …]), of PCM 129–293
 * (BENCHMARKS.md); the profile's long tasks there were V8 compiling and interpreting these functions.
 *
 * Why this file is near 400 lines: one pass per part of the chunk path (decoders, Opus passthrough,
 * engine wrapper, Socket.IO, the Transcribe SDK), each with the synthetic input it needs; they share
 * the report.
 *
 * What runs (nothing leaves the process; no database row, object, file or Transcribe stream):
 * - each input encoding's decoder, fed 200 ms chunks: 16 kHz PCM (a copy), 48 kHz PCM (the
 *   resampler), Ogg Opus and WebM Opus (the demuxers, the decoding worker's round trip, its WASM);
 * - Opus as a passed-through session takes it (TRANSCRIBE_AUDIO=opus): both demuxers without decoding
 *   on bytes cut mid-element and mid-page, the Ogg page writer twice per chunk;
 * - the framer and the level meter on the decoded PCM;
 * - the engine wrapper (retry ring, offsets, per-user share) around an in-memory engine, with PCM
 *   frames and with Opus packets;
 * - Socket.IO (its packet parser with binary attachments, engine.io, ws framing): 100 ms binary
 *   events with acks between a throw-away server on 127.0.0.1 (port 0, closed at once, acks only)
 *   and a client in this process;
 * - for `aws`: the real Transcribe streaming client with a request handler that stays in the
 *   process: every audio event is marshalled, signed and CRC'd as on the wire, and scripted result
 *   events are parsed back.
 */
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { createLiveDecoder, Framer, LevelMeter, type AudioEncoding } from '../audio/index.js';
import type { Logger } from '../lib/logger.js';
import { errFields } from '../lib/logger.js';
import { OggOpusWriter } from '../audio/ogg-opus.js';
import { ResultQueue } from '../transcription/result-queue.js';
import { createResilientEngine } from '../transcription/resilient-stream.js';
import { shareByUser } from '../transcription/fair-share.js';
import type { OpusStreamHead, OpusStreamPacket, TranscriptionEngine, TranscriptionStream, TranscriptResult } from '../transcription/port.js';

export interface WarmUpOptions {
  /** The primary engine's name: `aws` also warms the Transcribe SDK. */
  engine: string;
  region: string;
  /** 200 ms chunks per encoding (default 600: past V8's 500-call threshold for per-chunk functions). */
  chunks?: number;
}

export interface WarmUpReport {
  ms: number;
  /** Chunks decoded, and PCM bytes they gave, per input. */
  decoded: Record<string, { chunks: number; pcmBytes: number }>;
  /** Frames through the framer, level meter and the engine wrapper. */
  frames: number;
  /** Opus passed through (not decoded): chunks demuxed and Opus packets they gave, per input. */
  passthrough?: Partial<Record<'ogg_opus' | 'webm_opus', { chunks: number; packets: number; withPackets: number }>>;
  /** Chunks of Opus packets through the engine wrapper's writeOpus. */
  opusChunks?: number;
  /** `aws`: audio events signed and marshalled by the SDK, and result events it parsed. */
  transcribe?: { audioEvents: number; signedBytes: number; results: number };
  /** Binary events with acks through Socket.IO (parser, engine.io, ws) on a loopback server of its own. */
  socketIo?: { acks: number };
}

const CHUNK_MS = 200;
/** A 20 ms Opus frame of silence (CELT, fullband, mono): the codec's own "nothing here". */
const OPUS_SILENCE = Buffer.from([0xf8, 0xff, 0xfe]);

/** `n` chunks of 200 ms of a 400 Hz tone at `rate` (not silence: the level meter and resampler do real work); each its own buffer, as the wire gives them. */
function toneChunks(rate: number, n: number): Buffer[] {
  const samples = (rate * CHUNK_MS) / 1000;
  const one = Buffer.alloc(samples * 2);
  // 400 Hz: a whole number of periods in 200 ms at every supported rate, so chunks join without a click.
  for (let i = 0; i < samples; i++) one.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 400 * i) / rate)), i * 2);
  return Array.from({ length: n }, () => Buffer.from(one));
}

/**
 * Runs the warm-up; resolves with what ran. Never throws for a step that fails (a warm-up must not
 * stop a service that would work, only slower): the failure is logged and the step skipped.
 */
export async function warmUp(o: WarmUpOptions, logger: Logger): Promise<WarmUpReport> {
  const started = performance.now();
  const chunks = o.chunks ?? 600;
  const report: WarmUpReport = { ms: 0, decoded: {}, frames: 0 };
  const framer = new Framer();
  const meter = new LevelMeter();
  const frames: Buffer[] = [];
  const afterDecode = (pcm: Buffer) => {
    for (const f of framer.push(pcm)) {
      meter.update(f);
      frames.push(f);
    }
  };
  const step = async (name: string, f: () => Promise<void>) => {
    try {
      await f();
    } catch (err) {
      logger.warn({ step: name, err: errFields(err) }, 'warm_up_step_failed');
    }
  };

  const decode = async (name: string, encoding: AudioEncoding, sampleRate: number | undefined, input: Buffer[]) => {
    const decoder = await createLiveDecoder({ encoding, ...(sampleRate ? { sampleRate } : {}) });
    let pcmBytes = 0;
    for (const c of input) {
      const out = decoder.push(c).pcm;
      const pcm = out instanceof Promise ? await out : out;
      pcmBytes += pcm.length;
      afterDecode(pcm);
    }
    decoder.end();
    report.decoded[name] = { chunks: input.length, pcmBytes };
  };
  await step('pcm_16k', () => decode('pcm_s16le@16000', 'pcm_s16le', 16000, toneChunks(16000, chunks)));
  // The resampler is costlier per call and its inner loops tier up by loop count: fewer chunks.
  await step('pcm_48k', () => decode('pcm_s16le@48000', 'pcm_s16le', 48000, toneChunks(48000, Math.ceil(chunks / 6))));
  // Opus: every chunk is a round trip to the decoding worker; a sixth of the chunks tiers up the
  // demuxers (one call per chunk) without holding the start-up for long.
  const opusChunks = Math.ceil(chunks / 6);
  await step('ogg_opus', () => decode('ogg_opus', 'ogg_opus', undefined, oggOpus(opusChunks)));
  await step('webm_opus', () => decode('webm_opus', 'webm_opus', undefined, webmOpus(opusChunks)));
  // Opus passed through to the engine (TRANSCRIBE_AUDIO=opus) is not decoded, so its path runs at
  // the PCM path's count (past the 500 calls after which V8 optimises): the demuxers on bytes cut
  // anywhere (as MediaRecorder's timeslices and the network cut them), the page writer twice per
  // chunk (the recording's and the stream's), and the engine wrapper's writeOpus. With only the
  // decoding pass (a sixth of the chunks), 100 WebM sessions' first second had 345 of 500 acks over
  // 50 ms (BENCHMARKS.md).
  const passed: Array<{ packets: OpusStreamPacket[]; head: OpusStreamHead }> = [];
  await step('ogg_opus_passthrough', async () => {
    report.passthrough = { ...report.passthrough, ogg_opus: await passthrough('ogg_opus', recut(oggOpus(chunks)), passed) };
  });
  await step('webm_opus_passthrough', async () => {
    report.passthrough = { ...report.passthrough, webm_opus: await passthrough('webm_opus', recut(webmOpus(chunks)), passed) };
  });
  await step('engine_wrapper', async () => {
    report.frames = await throughWrapper(frames, logger);
    report.opusChunks = await throughWrapper(passed, logger);
  });
  await step('socket_io', async () => {
    report.socketIo = await socketIoRoundTrips(frames.slice(0, chunks));
  });
  if (o.engine === 'aws') {
    await step('transcribe_sdk', async () => {
      report.transcribe = await transcribeSdk(o.region, frames.slice(0, chunks));
    });
  }
  report.ms = Math.round(performance.now() - started);
  return report;
}

/** An Ogg Opus stream of `n` chunks (10 silent 20 ms packets each), headers in the first. */
function oggOpus(n: number): Buffer[] {
  const w = new OggOpusWriter({ channels: 1, preSkip: 312, inputSampleRate: 48000 }, 0x5eed);
  const packets = Array.from({ length: CHUNK_MS / 20 }, () => ({ data: OPUS_SILENCE, samples48k: 960 }));
  return Array.from({ length: n }, (_, i) => (i === 0 ? Buffer.concat([w.headers(), w.packets(packets)]) : w.packets(packets)));
}

/** EBML element with a known size. */
function el(id: number, body: Buffer): Buffer {
  const idLen = id > 0xffffff ? 4 : id > 0xffff ? 3 : id > 0xff ? 2 : 1;
  const idBuf = Buffer.alloc(idLen);
  idBuf.writeUIntBE(id, 0, idLen);
  const size = Buffer.alloc(8);
  size.writeUInt32BE(0x01000000, 0); // 8-byte size vint: 0x01 then 7 bytes
  size.writeUInt32BE(body.length, 4);
  return Buffer.concat([idBuf, size, body]);
}
const UNKNOWN = Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** WebM Opus as MediaRecorder writes it (Segment and Clusters of unknown size), `n` chunks of 10 packets. */
function webmOpus(n: number): Buffer[] {
  const opusHead = Buffer.concat([Buffer.from('OpusHead', 'latin1'), Buffer.from([1, 1, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0])]);
  const track = el(0xae, Buffer.concat([el(0xd7, Buffer.from([1])), el(0x86, Buffer.from('A_OPUS', 'latin1')), el(0x63a2, opusHead)]));
  const header = Buffer.concat([el(0x1a45dfa3, el(0x4282, Buffer.from('webm', 'latin1'))), Buffer.from([0x18, 0x53, 0x80, 0x67]), UNKNOWN, el(0x1654ae6b, track)]);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const timecode = Buffer.alloc(4);
    timecode.writeUInt32BE(i * CHUNK_MS);
    const blocks = Array.from({ length: CHUNK_MS / 20 }, (_, k) => el(0xa3, Buffer.concat([Buffer.from([0x81, 0, k * 20, 0x80]), OPUS_SILENCE])));
    out.push(Buffer.concat([...(i === 0 ? [header] : []), Buffer.from([0x1f, 0x43, 0xb6, 0x75]), UNKNOWN, el(0xe7, timecode), ...blocks]));
  }
  return out;
}

/** The same bytes cut at other places: at 2/3 of each chunk's length, so elements and pages split. */
function recut(chunks: Buffer[]): Buffer[] {
  const all = Buffer.concat(chunks);
  const out: Buffer[] = [];
  const per = Math.max(1, Math.round((all.length / chunks.length) * (2 / 3)));
  for (let at = 0; at < all.length; at += per) out.push(all.subarray(at, at + per));
  return out;
}

/**
 * Opus input as a passed-through session handles it: demuxed without decoding, each chunk's packets
 * written as Ogg pages twice (the recording's writer and the Transcribe stream's), and kept for the
 * engine wrapper's pass.
 */
async function passthrough(encoding: 'ogg_opus' | 'webm_opus', input: Buffer[], keep: Array<{ packets: OpusStreamPacket[]; head: OpusStreamHead }>): Promise<{ chunks: number; packets: number; withPackets: number }> {
  const decoder = await createLiveDecoder({ encoding, decode: false });
  const writers: OggOpusWriter[] = [];
  let packets = 0;
  const kept = keep.length;
  let head: OpusStreamHead | undefined; // given once, possibly with a chunk that completes no packet
  for (const c of input) {
    const out = decoder.push(c);
    if (out.head) {
      head = out.head;
      for (let i = 0; i < 2; i++) writers.push(new OggOpusWriter({ channels: head.channels, preSkip: head.preSkip, inputSampleRate: head.inputSampleRate }, 0x5eed + i));
      for (const w of writers) w.headers();
    }
    if (out.packets.length === 0 || !head) continue;
    for (const w of writers) w.packets(out.packets);
    packets += out.packets.length;
    keep.push({ packets: out.packets, head });
  }
  decoder.end();
  return { chunks: input.length, packets, withPackets: keep.length - kept };
}

/**
 * The live sessions' engine wrapper (resilience, per-user share) around an engine that keeps
 * nothing: PCM frames through `write`, or chunks of Opus packets through `writeOpus`.
 */
async function throughWrapper(input: Buffer[] | Array<{ packets: OpusStreamPacket[]; head: OpusStreamHead }>, logger: Logger): Promise<number> {
  let written = 0;
  const sink: TranscriptionEngine = {
    name: 'warm-up',
    acceptsOpus: true,
    async start(): Promise<TranscriptionStream> {
      const queue = new ResultQueue<TranscriptResult>();
      return {
        write: () => void written++,
        writeOpus: () => void written++,
        end: async () => {
          queue.close();
          await queue.settled();
        },
        abort: () => queue.abort(),
        [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator](),
      };
    },
    check: async () => {},
    close: async () => {},
  };
  const engine = createResilientEngine(shareByUser(sink, 4), undefined, {}, logger.child({ warmUp: true }));
  const opus = input.length > 0 && !Buffer.isBuffer(input[0]);
  const stream = await engine.start({ sampleRate: 16000, specialty: 'PRIMARYCARE', type: 'DICTATION', languageCode: 'en-US', sessionId: 'warm-up', userId: 'warm-up', ...(opus ? { input: 'ogg-opus' as const } : {}) });
  const consumed = (async () => {
    for await (const _ of stream) {
      /* nothing comes */
    }
  })();
  if (!opus) for (const f of input as Buffer[]) stream.write(f);
  else {
    for (const c of input as Array<{ packets: OpusStreamPacket[]; head: OpusStreamHead }>) stream.writeOpus!(c.packets, c.head);
  }
  await stream.end();
  await consumed;
  await engine.close();
  return written;
}

/** One event-stream message (Transcribe's framing: prelude, its CRC, string headers, payload, message CRC). */
function eventMessage(eventType: string, payload: unknown): Buffer {
  const headers = Buffer.concat(
    [
      [':message-type', 'event'],
      [':event-type', eventType],
      [':content-type', 'application/json'],
    ].map(([name, value]) => {
      const n = Buffer.from(name!, 'utf8');
      const v = Buffer.from(value!, 'utf8');
      const h = Buffer.alloc(1 + n.length + 1 + 2 + v.length);
      h[0] = n.length;
      n.copy(h, 1);
      h[1 + n.length] = 7; // string
      h.writeUInt16BE(v.length, 2 + n.length);
      v.copy(h, 4 + n.length);
      return h;
    }),
  );
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  const total = 12 + headers.length + body.length + 4;
  const msg = Buffer.alloc(total);
  msg.writeUInt32BE(total, 0);
  msg.writeUInt32BE(headers.length, 4);
  msg.writeUInt32BE(crc32(msg.subarray(0, 8)), 8);
  headers.copy(msg, 12);
  body.copy(msg, 12 + headers.length);
  msg.writeUInt32BE(crc32(msg.subarray(0, total - 4)), total - 4);
  return msg;
}

/**
 * The Transcribe streaming SDK end to end with a request handler inside this process: the audio
 * events are signed (SigV4 with throw-away credentials) and framed exactly as for AWS, and read
 * back here instead of sent; the response carries scripted results that the SDK parses.
 */
async function transcribeSdk(region: string, frames: Buffer[]): Promise<NonNullable<WarmUpReport['transcribe']>> {
  const sdk = await import('@aws-sdk/client-transcribe-streaming');
  let signedBytes = 0;
  let audioEvents = 0;
  const results = frames.length;
  const response = Array.from({ length: results }, (_, i) =>
    eventMessage('TranscriptEvent', {
      Transcript: { Results: [{ ResultId: `warm-${i >> 2}`, IsPartial: i % 4 !== 3, StartTime: i * 0.1, EndTime: i * 0.1 + 0.1, Alternatives: [{ Transcript: 'warm up', Items: [{ Type: 'pronunciation', Content: 'warm', StartTime: i * 0.1, EndTime: i * 0.1 + 0.05, Confidence: 0.9 }], Entities: [] }] }] },
    }),
  );
  const requestHandler = {
    metadata: { handlerProtocol: 'h2' },
    async handle(request: { body: AsyncIterable<Uint8Array> }) {
      for await (const m of request.body) {
        signedBytes += m.length;
        audioEvents++;
      }
      return { response: { statusCode: 200, headers: { 'content-type': 'application/vnd.amazon.eventstream' }, body: Readable.from(response) } };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
    destroy() {},
  };
  const client = new sdk.TranscribeStreamingClient({
    region,
    credentials: { accessKeyId: 'warm-up', secretAccessKey: 'warm-up' },
    requestHandler,
    logger: { trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  });
  async function* audio() {
    for (const f of frames) yield { AudioEvent: { AudioChunk: f } };
  }
  let parsed = 0;
  try {
    const res = await client.send(
      new sdk.StartMedicalStreamTranscriptionCommand({ LanguageCode: 'en-US', MediaEncoding: 'pcm', MediaSampleRateHertz: 16000, Specialty: 'PRIMARYCARE', Type: 'DICTATION', ContentIdentificationType: 'PHI', AudioStream: audio() }),
    );
    for await (const e of res.TranscriptResultStream ?? []) parsed += e.TranscriptEvent?.Transcript?.Results?.length ?? 0;
  } finally {
    client.destroy();
  }
  // The end-of-stream frame (an empty signed event) is counted with the audio events: not audio.
  return { audioEvents: Math.max(0, audioEvents - 1), signedBytes, results: parsed };
}

/**
 * `audio:chunk`-shaped events (a binary attachment and an ack) from a socket.io-client to a Socket.IO
 * server of this process's socket.io module, both on loopback: the same parser and engine.io code the
 * real server runs per chunk. The server only acks; it is closed before the service listens.
 */
async function socketIoRoundTrips(frames: Buffer[]): Promise<{ acks: number }> {
  const [{ Server }, { io: connect }, http] = await Promise.all([import('socket.io'), import('socket.io-client'), import('node:http')]);
  const server = http.createServer();
  const io = new Server(server, { serveClient: false, cors: { origin: false } });
  io.on('connection', (socket) => {
    socket.on('audio:chunk', (p: { seq: number }, ack: (r: unknown) => void) => ack({ ok: true, ackSeq: p.seq }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const client = connect(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false, forceNew: true });
  let acks = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('connect_error', reject);
    });
    for (let seq = 0; seq < frames.length; seq++) {
      const r = (await client.timeout(5000).emitWithAck('audio:chunk', { sessionId: 'warm-up', seq, data: frames[seq] })) as { ok?: boolean };
      if (r?.ok) acks++;
    }
  } finally {
    client.close();
    await new Promise<void>((resolve) => io.close(() => resolve()));
  }
  return { acks };
}
