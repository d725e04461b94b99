/**
 * Worker thread that decodes Opus packets for every live Opus stream of the process (WASM Opus,
 * `opus-decoder`), so no codec work runs on the event loop that acks chunks. Messages of one stream
 * are handled in order; each stream has its own decoder state.
 */
import { parentPort } from 'node:worker_threads';
import { OpusDecoder } from 'opus-decoder';
import type { FromOpusWorker, ToOpusWorker } from './opus-protocol.js';

const port = parentPort;
if (!port) throw new Error('opus-worker.ts must run in a worker thread');
const post = (m: FromOpusWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

const streams = new Map<number, { opus: OpusDecoder<16000>; skip16k: number }>();

port.on('message', async (m: ToOpusWorker) => {
  switch (m.type) {
    case 'open': {
      const opus = new OpusDecoder({ sampleRate: 16000, channels: 1 });
      streams.set(m.id, { opus, skip16k: 0 });
      // ready resolves before any later message of this stream is handled: decode awaits it too.
      await opus.ready;
      break;
    }
    case 'decode': {
      const s = streams.get(m.id);
      if (!s) {
        post({ type: 'error', id: m.id, seq: m.seq, message: 'stream closed' });
        break;
      }
      await s.opus.ready;
      if (m.preSkip16k !== undefined) s.skip16k = m.preSkip16k;
      const out: Int16Array[] = [];
      let total = 0;
      try {
        let at = 0;
        for (const len of m.lengths) {
          const packet = new Uint8Array(m.data, at, len);
          at += len;
          const res = s.opus.decodeFrame(packet);
          if (res.errors.length > 0) throw new Error('Opus packet does not decode');
          const ch = res.channelData[0];
          if (!ch) continue;
          let start = 0;
          if (s.skip16k > 0) {
            start = Math.min(s.skip16k, res.samplesDecoded);
            s.skip16k -= start;
          }
          const pcm = new Int16Array(res.samplesDecoded - start);
          for (let i = 0; i < pcm.length; i++) {
            const v = ch[start + i]! * 32768;
            pcm[i] = v < -32768 ? -32768 : v > 32767 ? 32767 : Math.round(v);
          }
          out.push(pcm);
          total += pcm.length;
        }
      } catch (err) {
        post({ type: 'error', id: m.id, seq: m.seq, message: err instanceof Error ? err.message : String(err) });
        break;
      }
      const pcm = new Int16Array(total);
      let off = 0;
      for (const a of out) {
        pcm.set(a, off);
        off += a.length;
      }
      post({ type: 'pcm', id: m.id, seq: m.seq, pcm: pcm.buffer }, [pcm.buffer]);
      break;
    }
    case 'close': {
      const s = streams.get(m.id);
      streams.delete(m.id);
      if (s) {
        await s.opus.ready;
        s.opus.free();
      }
      break;
    }
  }
});
