/**
 * The repair pass's read of an Ogg Opus stretch (repair-worker.ts `decodeOggWindow`): exactly the
 * PCM a full decode of the recording has between fromMs and toMs (the live session's timeline),
 * however the object's bytes arrive, and empty past the recording's end.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createDecoder } from '../../../src/audio/index.js';
import { decodeOggWindow } from '../../../src/dictation/repair-worker.js';
import { encodeOpus, randomChunks } from '../../support/audio.js';

describe('decodeOggWindow (repair of an Ogg Opus recording)', () => {
  it('returns exactly the full decode between fromMs and toMs, for any chunking of the object', async () => {
    const ogg = await encodeOpus('real/1089-134686-0000.wav', 'ogg');
    const full = await createDecoder({ encoding: 'ogg_opus' });
    const pcm = Buffer.concat([full.push(ogg).pcm, full.end()]);
    expect(pcm.length).toBeGreaterThan(5000 * 32);
    const body = (seed: number) => Readable.from(randomChunks(ogg, seed, 3000));

    for (const [fromMs, toMs, seed] of [
      [0, 1000, 1],
      [1234, 4321, 2],
      [2000, 2100, 3],
    ] as const) {
      const got = await decodeOggWindow(body(seed), fromMs, toMs);
      expect(got.equals(pcm.subarray(fromMs * 32, toMs * 32)), `${fromMs}-${toMs}`).toBe(true);
    }
    // A window running past the end: up to the end; one after it: nothing.
    const endMs = pcm.length / 32;
    expect((await decodeOggWindow(body(4), Math.floor(endMs) - 500, Math.floor(endMs) + 5000)).equals(pcm.subarray((Math.floor(endMs) - 500) * 32))).toBe(true);
    expect((await decodeOggWindow(body(5), Math.ceil(endMs) + 100, Math.ceil(endMs) + 900)).length).toBe(0);
  }, 60_000);
});
