import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDecoder, createLiveDecoder, InvalidAudioError, type OpusHeadInfo } from '../../../src/audio/index.js';
import { encodeOpus, randomChunks, readSharedPcm } from '../../support/audio.js';

/**
 * Counts Opus decoding on this (the main) thread: vitest's module mock applies to this thread only,
 * a worker thread imports the real module.
 */
const counter = vi.hoisted(() => ({ mainThreadDecodes: 0 }));
vi.mock('opus-decoder', async (importOriginal) => {
  const mod = await importOriginal<typeof import('opus-decoder')>();
  function CountingOpusDecoder(this: unknown, options: ConstructorParameters<typeof mod.OpusDecoder>[0]) {
    const d = new mod.OpusDecoder(options);
    const decodeFrame = d.decodeFrame.bind(d);
    d.decodeFrame = (frame) => {
      counter.mainThreadDecodes++;
      return decodeFrame(frame);
    };
    return d;
  }
  return { ...mod, OpusDecoder: CountingOpusDecoder };
});
afterEach(() => {
  counter.mainThreadDecodes = 0;
});

type Opus = 'webm_opus' | 'ogg_opus';
interface Decoded {
  pcm: Buffer;
  heads: OpusHeadInfo[];
  packets: Array<{ bytes: string; samples: number }>;
}

async function decodeWith(make: typeof createLiveDecoder, encoding: Opus, input: Buffer, seed: number): Promise<Decoded> {
  const heads: OpusHeadInfo[] = [];
  const packets: Decoded['packets'] = [];
  const dec = await make({ encoding });
  const parts: Buffer[] = [];
  for (const c of randomChunks(input, seed)) {
    const out = dec.push(c);
    if (out.head) heads.push(out.head);
    for (const p of out.packets) packets.push({ bytes: p.data.toString('base64'), samples: p.samples48k });
    parts.push(await out.pcm);
  }
  parts.push(dec.end());
  return { pcm: Buffer.concat(parts), heads, packets };
}

describe.each([
  ['webm_opus', 'webm'],
  ['ogg_opus', 'ogg'],
] as const)('live decoder %s', (encoding, container) => {
  it('decodes in a worker thread (no Opus decoding on the main thread) to exactly the PCM, OpusHead and packets of the in-thread decoder', async () => {
    const bytes = await encodeOpus('real/1089-134686-0000.wav', container);
    const live = await decodeWith(createLiveDecoder, encoding, bytes, 7);
    expect(counter.mainThreadDecodes).toBe(0);
    const inThread = await decodeWith(createDecoder as typeof createLiveDecoder, encoding, bytes, 7);
    expect(counter.mainThreadDecodes).toBeGreaterThan(100); // the spy works
    expect(live.pcm.length).toBeGreaterThan(5 * 32_000);
    expect(live.pcm.equals(inThread.pcm)).toBe(true);
    expect(live.heads).toEqual(inThread.heads);
    expect(live.packets).toEqual(inThread.packets);
  });

  it('rejects with InvalidAudioError for a packet that does not decode, after the audio before it', async () => {
    const bytes = await encodeOpus('real/jfk.wav', container);
    const dec = await createLiveDecoder({ encoding });
    const good = await dec.push(bytes.subarray(0, Math.floor(bytes.length / 2))).pcm;
    expect(good.length).toBeGreaterThan(32_000);
    const cut = Math.floor(bytes.length / 2);
    const bad = Buffer.concat([Buffer.alloc(64, 0x55), bytes.subarray(cut)]);
    let err: unknown;
    try {
      for (const c of randomChunks(bad, 3)) await dec.push(c).pcm;
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidAudioError);
    // A chunk pushed after the failure (a session queues chunks while the worker decodes) gets the same error.
    let again: unknown;
    try {
      dec.push(bytes.subarray(cut, cut + 100));
    } catch (e) {
      again = e;
    }
    expect(again).toBe(err);
    dec.end();
  });

  it('returns a chunk\'s packets and the OpusHead at once (before its PCM is decoded), the head in exactly one result', async () => {
    const bytes = await encodeOpus('real/jfk.wav', container);
    const dec = await createLiveDecoder({ encoding });
    const results = randomChunks(bytes, 5).map((c) => dec.push(c));
    // Everything below is known synchronously: no PCM promise has been awaited yet.
    const heads = results.filter((r) => r.head).map((r) => r.head);
    expect(heads).toEqual([expect.objectContaining({ channels: 1 })]);
    const first = results.findIndex((r) => r.packets.length > 0);
    expect(results.findIndex((r) => r.head)).toBeLessThanOrEqual(first);
    const samples = results.reduce((n, r) => n + r.packets.reduce((m, p) => m + p.samples48k, 0), 0);
    const pcm = Buffer.concat(await Promise.all(results.map((r) => r.pcm)));
    // The packets' duration is the decoded audio's, pre-skip aside (at 16 kHz: a third of 48 kHz).
    expect(Math.abs(pcm.length / 2 - (samples - heads[0]!.preSkip) / 3)).toBeLessThan(2);
    dec.end();
  });

  it('with decode: false demuxes only: the same packets and head, and no PCM', async () => {
    const bytes = await encodeOpus('real/jfk.wav', container);
    const plain = await decodeWith(createLiveDecoder, encoding, bytes, 9);
    const dec = await createLiveDecoder({ encoding, decode: false });
    const packets: Array<{ bytes: string; samples: number }> = [];
    let pcmBytes = 0;
    for (const c of randomChunks(bytes, 9)) {
      const out = dec.push(c);
      expect(out.pcm).toBeInstanceOf(Buffer);
      pcmBytes += (out.pcm as Buffer).length;
      for (const p of out.packets) packets.push({ bytes: p.data.toString('base64'), samples: p.samples48k });
    }
    dec.end();
    expect(pcmBytes).toBe(0);
    expect(packets).toEqual(plain.packets);
  });
});

describe('live decoder pcm_s16le', () => {
  it('stays synchronous (no codec, no promise per chunk)', async () => {
    const pcm = readSharedPcm('real/jfk.wav');
    const dec = await createLiveDecoder({ encoding: 'pcm_s16le', sampleRate: 16000 });
    const out = dec.push(pcm.subarray(0, 8000));
    expect(out.pcm).toBeInstanceOf(Buffer);
    expect((out.pcm as Buffer).equals(pcm.subarray(0, 8000))).toBe(true);
    expect(out.packets).toEqual([]);
    expect(out.head).toBeUndefined();
  });
});
