// @ts-check
// The microphone: 16 kHz PCM in 100 ms frames through an AudioWorklet (pcm-worklet.js), or the Opus
// MediaRecorder produces where AudioWorklet is missing. recorder.js hands what comes out to the sender.

/** @typedef {import('../src/realtime/events.js').AudioEncoding} AudioEncoding */
/** @typedef {{ stop(): Promise<void> }} Capture a running capture; `stop()` resolves once the last audio was handed over */

// Speech engines do best on unprocessed audio: browser noise suppression and AGC smear the
// consonants they rely on.
const MIC_CONSTRAINTS = { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false };

/** Opens the microphone; rejects with the browser's error (`NotFoundError`, `NotAllowedError`…). */
export const openMicrophone = () => navigator.mediaDevices.getUserMedia({ audio: MIC_CONSTRAINTS });

/**
 * What this browser records: 16 kHz PCM through an AudioWorklet (every current browser), else the
 * Opus that MediaRecorder produces (WebM or Ogg), else nothing.
 * @returns {AudioEncoding | null}
 */
export function captureEncoding() {
  if (!navigator.mediaDevices?.getUserMedia) return null;
  if (window.AudioWorkletNode) return 'pcm_s16le';
  if (!window.MediaRecorder) return null;
  if (MediaRecorder.isTypeSupported('audio/webm;codecs=opus')) return 'webm_opus';
  if (MediaRecorder.isTypeSupported('audio/ogg;codecs=opus')) return 'ogg_opus';
  return null;
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
  const { ctx, source } = audioGraph(stream);
  await ctx.audioWorklet.addModule('/pcm-worklet.js');
  const node = new AudioWorkletNode(ctx, 'pcm-downsampler');
  node.port.onmessage = ({ data }) => onFrame(data.pcm, data.dbfs);
  source.connect(node);
  return {
    async stop() {
      source.disconnect();
      node.port.onmessage = null;
      stream.getTracks().forEach((t) => t.stop());
      void ctx.close();
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
