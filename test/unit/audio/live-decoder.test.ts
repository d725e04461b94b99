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
  const dec = await make({ encoding, onOpusHead: (h) => heads.push(h), onOpusPacket: (p, samples) => packets.push({ bytes: p.toString('base64'), samples }) });
  const parts: Buffer[] = [];
  for (const c of randomChunks(input, seed)) parts.push(await dec.push(c));
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
    const good = await dec.push(bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(good.length).toBeGreaterThan(32_000);
    const cut = Math.floor(bytes.length / 2);
    const bad = Buffer.concat([Buffer.alloc(64, 0x55), bytes.subarray(cut)]);
    let err: unknown;
    try {
      for (const c of randomChunks(bad, 3)) await dec.push(c);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidAudioError);
    dec.end();
  });
});

describe('live decoder pcm_s16le', () => {
  it('stays synchronous (no codec, no promise per chunk)', async () => {
    const pcm = readSharedPcm('real/jfk.wav');
    const dec = await createLiveDecoder({ encoding: 'pcm_s16le', sampleRate: 16000 });
    const out = dec.push(pcm.subarray(0, 8000));
    expect(out).toBeInstanceOf(Buffer);
    expect((out as Buffer).equals(pcm.subarray(0, 8000))).toBe(true);
  });
});
