/**
 * Accuracy and speed of the offline engine on ../shared/audio/{real,clinical-synth}.
 *   npx tsx scripts/bench-accuracy.ts [--lm-dir DIR] [--default-search] [--streams N] [--live N [--live-seconds S]]
 * --live N also feeds N streams in real time (100 ms frames every 100 ms) and reports how late finals
 * arrive after the audio they cover (wall clock): if that stays bounded, N streams keep up.
 * Progress goes to stderr; the last stdout line is one JSON object:
 *   { engine, model, search, folders: { real: { wer, words, files: [{ file, wer, edits, words, audioSec, procSec }] }, ... },
 *     rtf, concurrency: { streams, audioSec, wallSec, xRealtime, rssMbBefore, rssMbPeak } }
 * WER is word-level Levenshtein over normalised words, aggregated as total edits / total reference words.
 * RTF is processing time / audio time for one stream at a time, fed as fast as the engine takes it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../src/lib/logger.js';
import type { TranscriptionEngine } from '../src/transcription/port.js';
import { createLocalEngine, FAST_SEARCH_ARGS } from '../src/transcription/providers/local/index.js';
import { readReferences, readSharedPcm, SHARED_AUDIO } from '../test/support/audio.js';
import { wer } from '../test/support/wer.js';

const { values: args } = parseArgs({
  options: {
    'lm-dir': { type: 'string' },
    'default-search': { type: 'boolean', default: false },
    streams: { type: 'string', default: '8' },
    live: { type: 'string', default: '0' },
    'live-seconds': { type: 'string', default: '30' },
  },
});

const FRAME = 3200;

async function transcribe(engine: TranscriptionEngine, pcm: Buffer, sessionId: string): Promise<string> {
  const stream = await engine.start({ sampleRate: 16000, specialty: 'PRIMARYCARE', type: 'DICTATION', languageCode: 'en-US', sessionId });
  const finals: string[] = [];
  const reading = (async () => {
    for await (const r of stream) if (r.kind === 'final' && r.text) finals.push(r.text);
  })();
  for (let i = 0; i < pcm.length; i += FRAME) stream.write(pcm.subarray(i, i + FRAME));
  await stream.end();
  await reading;
  return finals.join(' ');
}

/** N concurrent real-time streams: lateness of each final = arrival − (stream start + its endMs). */
async function liveRun(engine: TranscriptionEngine, n: number, pcm: Buffer) {
  const lateness: number[] = [];
  const endLag: number[] = [];
  await Promise.all(
    Array.from({ length: n }, async (_, k) => {
      await new Promise((r) => setTimeout(r, k * 37)); // stagger frame timing a little
      const stream = await engine.start({ sampleRate: 16000, specialty: 'PRIMARYCARE', type: 'DICTATION', languageCode: 'en-US', sessionId: `live${k}` });
      const t0 = performance.now();
      const reading = (async () => {
        for await (const r of stream) if (r.kind === 'final') lateness.push(performance.now() - t0 - r.endMs);
      })();
      for (let i = 0, f = 0; i < pcm.length; i += FRAME, f++) {
        const due = t0 + f * 100;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        stream.write(pcm.subarray(i, i + FRAME));
      }
      const tEnd = performance.now();
      await stream.end();
      endLag.push(performance.now() - tEnd);
      await reading;
    }),
  );
  lateness.sort((a, b) => a - b);
  const q = (p: number) => Math.round(lateness[Math.min(lateness.length - 1, Math.floor(p * lateness.length))] ?? 0);
  return { streams: n, seconds: pcm.length / 32000, finals: lateness.length, finalLateMs: { p50: q(0.5), p95: q(0.95), max: q(1) }, endLagMsMax: Math.round(Math.max(...endLag)) };
}

const logger = createLogger({ level: 'warn' }, process.stderr as never);
const engine = createLocalEngine(
  { ...(args['lm-dir'] ? { lmDir: args['lm-dir'] } : {}), ...(args['default-search'] ? { searchArgs: [] } : {}) },
  logger,
);
try {
  await engine.check();
  const folders: Record<string, { wer: number; words: number; files: unknown[] }> = {};
  let procTotal = 0;
  let audioTotal = 0;
  const all: Buffer[] = [];
  for (const folder of ['real', 'clinical-synth']) {
    let edits = 0;
    let words = 0;
    const files = [];
    for (const { file, text } of readReferences(folder)) {
      const pcm = readSharedPcm(path.join(folder, file));
      all.push(pcm);
      const t0 = performance.now();
      const hyp = await transcribe(engine, pcm, file);
      const procSec = (performance.now() - t0) / 1000;
      const audioSec = pcm.length / 32000;
      const w = wer(text, hyp);
      edits += w.edits;
      words += w.refWords;
      procTotal += procSec;
      audioTotal += audioSec;
      files.push({ file, wer: +w.wer.toFixed(4), edits: w.edits, words: w.refWords, audioSec: +audioSec.toFixed(2), procSec: +procSec.toFixed(3) });
      process.stderr.write(`${folder}/${file}: WER ${(100 * w.wer).toFixed(1)} %\n`);
    }
    folders[folder] = { wer: +(edits / words).toFixed(4), words, files };
  }
  // Throughput: N streams at once, each fed as fast as possible; xRealtime ≈ real-time streams sustainable.
  const n = Number(args.streams);
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const rssBefore = peakRss;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: n }, (_, i) => transcribe(engine, Buffer.concat(all.slice(0, 12)), `c${i}`)));
  const wallSec = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const concAudio = (n * all.slice(0, 12).reduce((a, b) => a + b.length, 0)) / 32000;
  const result = {
    engine: 'local',
    model: args['lm-dir'] ? path.resolve(args['lm-dir']) : 'debian pocketsphinx-en-us',
    search: args['default-search'] ? 'default' : FAST_SEARCH_ARGS.join(' '),
    audioDir: SHARED_AUDIO,
    folders,
    rtf: +(procTotal / audioTotal).toFixed(4),
    concurrency: { streams: n, audioSec: +concAudio.toFixed(1), wallSec: +wallSec.toFixed(2), xRealtime: +(concAudio / wallSec).toFixed(2), rssMbBefore: Math.round(rssBefore / 1e6), rssMbPeak: Math.round(peakRss / 1e6) },
  };
  const liveN = Number(args.live);
  const live = liveN > 0 ? await liveRun(engine, liveN, Buffer.concat(all).subarray(0, Number(args['live-seconds']) * 32000)) : undefined;
  if (!fs.existsSync(SHARED_AUDIO)) throw new Error('shared audio missing');
  console.log(JSON.stringify({ ...result, ...(live ? { live } : {}) }));
} finally {
  await engine.close();
}
