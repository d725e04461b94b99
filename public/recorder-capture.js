// @ts-check
// The microphone, in the cheapest form the browser can send (issue 15: 16 kHz PCM is 256 kbit/s,
// 1.9 MB a minute, too much for a clinic's shared uplink):
// - Opus from WebCodecs' AudioEncoder (~24 kbit/s), fed 100 ms frames of 16 kHz PCM from the
//   AudioWorklet (pcm-worklet.js) and written into Ogg pages here (lib/ogg-opus-writer.js): `ogg_opus`;
// - else the Opus MediaRecorder produces (WebM or Ogg, 250 ms timeslices): `webm_opus` / `ogg_opus`;
// - else, or when the user asks for "lossless", 16 kHz PCM from the worklet: `pcm_s16le`.
// recorder.js hands what comes out to the sender, whose ledger treats every chunk's bytes as opaque.

import { CHUNK_FRAMES, FRAME_MS } from './recorder-sender.js';
import { OggOpusWriter, concat, opusHead, serialFor } from './lib/ogg-opus-writer.js';

/** @typedef {import('../src/realtime/events.js').AudioEncoding} AudioEncoding */
/** @typedef {{ stop(): Promise<void> }} Capture a running capture; `stop()` resolves once the last audio was handed over */
/**
 * How this page records: `opus` (AudioEncoder + Ogg pages), `mediarecorder` or `pcm`; stored with the
 * session's ledger, because only `opus` and `pcm` can continue a session after a reload.
 * @typedef {{ kind: 'opus', encoding: 'ogg_opus' } | { kind: 'mediarecorder', encoding: 'webm_opus' | 'ogg_opus' } | { kind: 'pcm', encoding: 'pcm_s16le' }} CapturePlan
 */

// Speech engines do best on unprocessed audio: browser noise suppression and AGC smear the
// consonants they rely on.
const MIC_CONSTRAINTS = { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false };

/** Opens the microphone; rejects with the browser's error (`NotFoundError`, `NotAllowedError`…). */
export const openMicrophone = () => navigator.mediaDevices.getUserMedia({ audio: MIC_CONSTRAINTS });

const RATE = 16000;
/**
 * 24 kbit/s mono Opus: about a tenth of 16 kHz PCM's 256 kbit/s and transparent for speech
 * recognition (wideband SILK). Measured in Chromium 150 on the 10.4 s jfk.wav:
 * test/e2e/recorder-opus.test.ts reports the bytes per minute.
 */
const OPUS_CONFIG = { codec: 'opus', sampleRate: RATE, numberOfChannels: 1, bitrate: 24_000, opus: { frameDuration: 20_000 } };
/** 20 ms packets, so one chunk of the sender (CHUNK_FRAMES × FRAME_MS = 200 ms) is 10 of them. */
const PACKET_MS = 20;
export const PACKETS_PER_CHUNK = (CHUNK_FRAMES * FRAME_MS) / PACKET_MS;
/**
 * libopus's look-ahead, 6.5 ms, in 48 kHz samples: what a player discards at the start (RFC 7845
 * §4.2). Chromium 150's own OpusHead (the encoder's `description`) gives 104, the 16 kHz figure,
 * so the page writes its own.
 */
const PRE_SKIP = 312;

/** Whether this browser has WebCodecs Opus at our settings (a promise: the browser answers async). */
async function webCodecsOpus() {
  if (typeof AudioEncoder === 'undefined' || typeof AudioData === 'undefined' || !window.AudioWorkletNode) return false;
  try {
    return Boolean((await AudioEncoder.isConfigSupported(OPUS_CONFIG)).supported);
  } catch {
    return false;
  }
}

/**
 * What this browser records: Opus from WebCodecs, else MediaRecorder's Opus (WebM or Ogg), else PCM
 * through the AudioWorklet; PCM first when the user chose lossless (where the worklet exists). Null:
 * nothing works here.
 * @param {{ lossless?: boolean }} [options]
 * @returns {Promise<CapturePlan | null>}
 */
export async function capturePlan({ lossless = false } = {}) {
  if (!navigator.mediaDevices?.getUserMedia) return null;
  const worklet = Boolean(window.AudioWorkletNode);
  if (lossless && worklet) return { kind: 'pcm', encoding: 'pcm_s16le' };
  if (await webCodecsOpus()) return { kind: 'opus', encoding: 'ogg_opus' };
  if (window.MediaRecorder) {
    if (MediaRecorder.isTypeSupported('audio/webm;codecs=opus')) return { kind: 'mediarecorder', encoding: 'webm_opus' };
    if (MediaRecorder.isTypeSupported('audio/ogg;codecs=opus')) return { kind: 'mediarecorder', encoding: 'ogg_opus' };
  }
  return worklet ? { kind: 'pcm', encoding: 'pcm_s16le' } : null;
}

/**
 * Whether a session recorded as `plan` can go on after a reload with this browser: PCM always (where
 * the worklet exists), Opus from WebCodecs when it still has it (its stream is continued page by
 * page); MediaRecorder's container header went with the page.
 * @param {CapturePlan['kind'] | undefined} kind
 * @param {AudioEncoding} encoding
 */
export async function canContinue(kind, encoding) {
  if (encoding === 'pcm_s16le') return Boolean(window.AudioWorkletNode);
  return kind === 'opus' && (await webCodecsOpus());
}

/**
 * A 16 kHz context lets the browser's own high-quality resampler do the work (Chrome, Safari); where
 * a microphone cannot join a context of another rate (older Firefox), the default rate is used and
 * the worklet downsamples.
 * @param {MediaStream} stream
 */
function audioGraph(stream) {
  try {
    const ctx = new AudioContext({ sampleRate: 16000 });
    try {
      return { ctx, source: ctx.createMediaStreamSource(stream) };
    } catch {
      void ctx.close();
    }
  } catch {
    /* this browser refuses a 16 kHz context */
  }
  const ctx = new AudioContext();
  return { ctx, source: ctx.createMediaStreamSource(stream) };
}

/**
 * PCM: every 100 ms frame (16 kHz, 16-bit) and its level go to `onFrame`.
 * @param {MediaStream} stream
 * @param {(pcm: ArrayBuffer, dbfs: number) => void} onFrame
 * @returns {Promise<Capture>}
 */
export async function capturePcm(stream, onFrame) {
  const release = await workletFrames(stream, onFrame);
  return {
    async stop() {
      release();
    },
  };
}

/**
 * The worklet graph PCM and WebCodecs capture share: every 100 ms frame (16 kHz, 16-bit) and its
 * level go to `onFrame`. Resolves with `release`, which disconnects the graph, stops the microphone
 * and closes the context.
 * @param {MediaStream} stream
 * @param {(pcm: ArrayBuffer, dbfs: number) => void} onFrame
 * @returns {Promise<() => void>}
 */
async function workletFrames(stream, onFrame) {
  const { ctx, source } = audioGraph(stream);
  await ctx.audioWorklet.addModule('/pcm-worklet.js');
  const node = new AudioWorkletNode(ctx, 'pcm-downsampler');
  node.port.onmessage = ({ data }) => onFrame(data.pcm, data.dbfs);
  source.connect(node);
  return () => {
    source.disconnect();
    node.port.onmessage = null;
    stream.getTracks().forEach((t) => t.stop());
    void ctx.close();
  };
}

/**
 * Opus from WebCodecs: the worklet's 100 ms frames go to an AudioEncoder; every PACKETS_PER_CHUNK
 * packets become one Ogg page, handed to `onChunk` with the milliseconds it holds (the first with the
 * stream's two header pages before it). The level comes from the worklet, as for PCM.
 * @param {MediaStream} stream
 * @param {{ sessionId: string, nextSeq: number }} at the session, and the seq of the first chunk this
 *   capture produces: above 0, the stream continues the one a reloaded page began
 * @param {(chunk: Uint8Array, ms: number) => void} onChunk
 * @param {(dbfs: number) => void} onLevel
 * @param {(error: Error) => void} onError the encoder failed: no more audio comes
 * @returns {Promise<Capture>}
 */
export async function captureOggOpus(stream, { sessionId, nextSeq }, onChunk, onLevel, onError) {
  const samplesPerChunk = BigInt(PACKETS_PER_CHUNK * PACKET_MS * 48);
  // Chunk `seq` is page `seq + 2` (two header pages first); granules only need to rise for the
  // server, so a continued stream counts whole chunks from the pre-skip.
  const writer = new OggOpusWriter({
    serial: serialFor(sessionId),
    head: opusHead({ channels: 1, preSkip: PRE_SKIP, inputSampleRate: RATE }),
    ...(nextSeq > 0 ? { pageSeq: nextSeq + 2, granule: BigInt(PRE_SKIP) + BigInt(nextSeq) * samplesPerChunk } : {}),
  });
  /** @type {import('./lib/ogg-opus-writer.js').OpusPacket[]} */
  let packets = [];
  /** @param {boolean} last */
  const emit = (last) => {
    if (packets.length === 0) return;
    const ms = packets.reduce((n, p) => n + p.samples48k, 0) / 48;
    const headers = writer.needsHeaders ? [writer.headers()] : [];
    const chunk = concat([...headers, writer.page(packets, last)]);
    packets = [];
    onChunk(chunk, ms);
  };
  let failed = false;
  const encoder = new AudioEncoder({
    output: (chunk) => {
      const data = new Uint8Array(chunk.byteLength);
      chunk.copyTo(data);
      packets.push({ data, samples48k: chunk.duration ? Math.round((chunk.duration * 48) / 1000) : PACKET_MS * 48 });
      if (packets.length >= PACKETS_PER_CHUNK) emit(false);
    },
    error: (e) => {
      failed = true;
      onError(e);
    },
  });
  encoder.configure(OPUS_CONFIG);
  let frames = 0;
  const release = await workletFrames(stream, (pcm, dbfs) => {
    onLevel(dbfs);
    if (failed || encoder.state !== 'configured') return;
    const audio = new AudioData({ format: 's16', sampleRate: RATE, numberOfChannels: 1, numberOfFrames: pcm.byteLength / 2, timestamp: frames++ * FRAME_MS * 1000, data: pcm });
    encoder.encode(audio);
    audio.close();
  });
  return {
    async stop() {
      release();
      if (!failed && encoder.state === 'configured') {
        // The encoder holds the last frames until flushed; they are the end of the recording.
        await encoder.flush().catch(() => {});
        emit(true);
      }
      if (encoder.state !== 'closed') encoder.close();
    },
  };
}

/**
 * The fallback: MediaRecorder timeslices handed over as they come (only the first carries the
 * container header), with the level measured beside it.
 * @param {MediaStream} stream
 * @param {'webm_opus' | 'ogg_opus'} encoding
 * @param {(chunk: Uint8Array) => void} onChunk
 * @param {(dbfs: number) => void} onLevel
 * @returns {Capture}
 */
export function captureOpus(stream, encoding, onChunk, onLevel) {
  const mimeType = encoding === 'webm_opus' ? 'audio/webm;codecs=opus' : 'audio/ogg;codecs=opus';
  const recorder = new MediaRecorder(stream, { mimeType, audioBitsPerSecond: 32_000 });
  const ctx = new AudioContext();
  const source = ctx.createMediaStreamSource(stream);
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 2048;
  source.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const level = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const v of samples) sum += v * v;
    const rms = Math.sqrt(sum / samples.length);
    onLevel(rms > 0 ? 20 * Math.log10(rms) : -100);
  }, 100);
  // Blobs resolve in order of arrival; chain them so chunk order is the recording order.
  /** @type {Promise<void>} */
  let order = Promise.resolve();
  recorder.ondataavailable = (e) => {
    if (!e.data.size) return;
    order = order.then(async () => onChunk(new Uint8Array(await e.data.arrayBuffer())));
  };
  /** @type {Promise<void>} */
  const stopped = new Promise((resolve) => (recorder.onstop = () => resolve(order)));
  recorder.start(250);
  return {
    async stop() {
      source.disconnect();
      clearInterval(level);
      if (recorder.state !== 'inactive') recorder.stop();
      await stopped; // MediaRecorder hands over its last timeslice after stop()
      stream.getTracks().forEach((t) => t.stop());
      void ctx.close();
    },
  };
}
