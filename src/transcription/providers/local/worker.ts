/**
 * Worker thread of the offline engine: loads PocketSphinx and the model once, keeps initialised
 * decoders for reuse (ps_init costs ~300 ms), and runs each stream's recognition off the main
 * thread. Messages for one stream are handled in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type Decoder, loadPocketsphinx, type ModelPaths, resolveModel } from './pocketsphinx.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import { Recognizer } from './recognizer.js';

const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');
const init = workerData as WorkerInit;
const post = (m: FromWorker): void => port.postMessage(m);

const spare: Decoder[] = [];
const streams = new Map<number, { rec: Recognizer; decoder: Decoder }>();
let model: ModelPaths;
let ps: ReturnType<typeof loadPocketsphinx>;

try {
  ps = loadPocketsphinx();
  model = resolveModel(init.lmDir);
  spare.push(ps.createDecoder(model, init.args));
  post({ type: 'ready' });
} catch (err) {
  post({ type: 'init-error', message: err instanceof Error ? err.message : String(err) });
}

function release(decoder: Decoder): void {
  if (spare.length < init.spareDecoders) spare.push(decoder);
  else decoder.free();
}

port.on('message', (m: ToWorker) => {
  const s = streams.get(m.id);
  try {
    switch (m.type) {
      case 'open': {
        const decoder = spare.pop() ?? ps.createDecoder(model, init.args);
        const rec = new Recognizer(decoder, (result) => post({ type: 'result', id: m.id, result }));
        streams.set(m.id, { rec, decoder });
        break;
      }
      case 'audio':
        s?.rec.write(new Int16Array(m.pcm));
        break;
      case 'end':
        if (s) {
          streams.delete(m.id);
          s.rec.end();
          release(s.decoder);
        }
        post({ type: 'ended', id: m.id });
        break;
      case 'abort':
        if (s) {
          streams.delete(m.id);
          s.rec.abort();
          release(s.decoder);
        }
        break;
      case 'ping':
        post({ type: 'pong', id: m.id });
        break;
    }
  } catch (err) {
    if (s) {
      streams.delete(m.id);
      // A decoder in an unknown state is not reused.
      s.decoder.free();
    }
    post({ type: 'stream-error', id: m.id, message: err instanceof Error ? err.message : String(err) });
  }
});
