/**
 * Worker thread of the offline engine: loads PocketSphinx once and runs each stream's recognition
 * off the main thread; messages for one stream are handled in order. Every stream gets a fresh
 * decoder: a reused one carries the previous speaker's cepstral-mean adaptation (measured: jfk.wav
 * 50 % WER fresh, 82 % after other files). ps_init costs ~300 ms, so a fresh spare is prepared
 * while the worker is idle.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type Decoder, loadPocketsphinx, type ModelPaths, resolveModel } from './pocketsphinx.js';
import type { FromWorker, SearchMode, ToWorker, WorkerInit } from './protocol.js';
import { DEFAULT_TUNING, Recognizer } from './recognizer.js';
import { dictionaryEntry, type VocabularyReport } from './vocabulary.js';

const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');
const init = workerData as WorkerInit;
const post = (m: FromWorker): void => port.postMessage(m);

/** Spare decoders, of the search setting the last stream asked for (the next one likely asks the same). */
const spare: { search: SearchMode; decoders: Decoder[] } = { search: init.firstSearch, decoders: [] };
const streams = new Map<number, { rec: Recognizer; decoder: Decoder }>();
let model: ModelPaths;
let ps: ReturnType<typeof loadPocketsphinx>;

let refillPending = false;
let shuttingDown = false;
function refill(): void {
  if (refillPending || shuttingDown) return;
  refillPending = true;
  setImmediate(() => {
    refillPending = false;
    if (shuttingDown) return;
    try {
      while (spare.decoders.length < init.spareDecoders) spare.decoders.push(ps.createDecoder(model, init.args[spare.search]));
    } catch {
      // The next open creates its own decoder and reports a failure to its stream.
    }
  });
}

try {
  ps = loadPocketsphinx();
  model = resolveModel(init.lmDir);
  spare.decoders.push(ps.createDecoder(model, init.args[spare.search]));
  post({ type: 'ready', model });
  refill();
} catch (err) {
  post({ type: 'init-error', message: err instanceof Error ? err.message : String(err) });
}

/**
 * Removes stream `id` and frees its decoder: after its last results (`end`), without them
 * (`abort`), or as it stands (a stream that failed).
 */
function closeStream(id: number, how?: 'end' | 'abort'): void {
  const s = streams.get(id);
  if (!s) return;
  streams.delete(id);
  try {
    if (how === 'end') s.rec.end();
    else if (how === 'abort') s.rec.abort();
  } finally {
    s.decoder.free();
  }
}

port.on('message', (m: ToWorker) => {
  const s = streams.get(m.id);
  try {
    switch (m.type) {
      case 'open': {
        if (spare.search !== m.search) {
          for (const d of spare.decoders.splice(0)) d.free();
          spare.search = m.search;
        }
        const decoder = spare.decoders.pop() ?? ps.createDecoder(model, init.args[m.search]);
        const display = new Map<string, string>();
        if (m.vocabulary?.length) {
          // This decoder's own dictionary (decoders are fresh per stream); the language model is
          // shared by the thread's decoders, whose dictionaries do not have the word, so their
          // searches never propose it.
          const report: VocabularyReport = { added: [], known: [], skipped: [] };
          const toAdd: Array<{ word: string; phones: string }> = [];
          for (const term of m.vocabulary) {
            const entry = dictionaryEntry(term, (w) => decoder.lookup(w));
            if (decoder.lookup(entry.word) !== undefined || toAdd.some((t) => t.word === entry.word)) report.known.push(entry.word);
            else if (entry.phones !== undefined) toAdd.push({ word: entry.word, phones: entry.phones });
            else {
              report.skipped.push(entry.word);
              continue;
            }
            display.set(entry.word, entry.display);
          }
          // The search is rebuilt once, with the last word (a rebuild per word would cost ms each).
          toAdd.forEach((t, i) => {
            if (decoder.addWord(t.word, t.phones, i === toAdd.length - 1)) report.added.push(t.word);
            else {
              report.skipped.push(t.word);
              display.delete(t.word);
            }
          });
          post({ type: 'vocabulary', id: m.id, report });
        }
        const rec = new Recognizer(decoder, (result) => post({ type: 'result', id: m.id, result }), DEFAULT_TUNING, display);
        streams.set(m.id, { rec, decoder });
        refill();
        break;
      }
      case 'audio': {
        const samples = new Int16Array(m.pcm);
        s?.rec.write(samples);
        post({ type: 'processed', id: m.id, samples: samples.length });
        break;
      }
      case 'end':
        closeStream(m.id, 'end');
        post({ type: 'ended', id: m.id });
        break;
      case 'abort':
        closeStream(m.id, 'abort');
        break;
      case 'ping':
        post({ type: 'pong', id: m.id });
        break;
      case 'shutdown':
        shuttingDown = true;
        for (const st of streams.values()) st.decoder.free();
        streams.clear();
        for (const d of spare.decoders.splice(0)) d.free();
        ps?.release();
        // The thread ends by itself once its port is closed (nothing else is pending: refills stop
        // when shuttingDown is set).
        port.close();
    }
  } catch (err) {
    // The stream this message found, if any.
    if (s) closeStream(m.id);
    post({ type: 'stream-error', id: m.id, message: err instanceof Error ? err.message : String(err) });
  }
});
