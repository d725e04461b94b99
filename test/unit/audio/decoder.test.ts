import { describe, expect, it } from 'vitest';
import { createDecoder, InvalidAudioError, type OpusHeadInfo, UnsupportedAudioFormatError } from '../../../src/audio/index.js';
import { encodeOpus, randomChunks, readSharedPcm } from '../../support/audio.js';

function tone(rate: number, freq: number, seconds: number, amp = 0.5): Buffer {
  const n = Math.round(rate * seconds);
  const buf = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) buf.writeInt16LE(Math.round(amp * 32767 * Math.sin((2 * Math.PI * freq * i) / rate)), i * 2);
  return buf;
}

function samples(buf: Buffer): Float64Array {
  const out = new Float64Array(buf.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = buf.readInt16LE(i * 2);
  return out;
}

/** Power of one frequency (Goertzel), normalised by length. */
function powerAt(x: Float64Array, rate: number, freq: number): number {
  const w = (2 * Math.PI * freq) / rate;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (const v of x) {
    const s = v + c * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return (s1 * s1 + s2 * s2 - c * s1 * s2) / (x.length * x.length);
}

function rms(x: Float64Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / x.length);
}

async function decodeAll(encoding: 'pcm_s16le' | 'webm_opus' | 'ogg_opus', input: Buffer, seed: number, sampleRate?: number) {
  const heads: OpusHeadInfo[] = [];
  let packetSamples = 0;
  let packets = 0;
  const dec = await createDecoder({ encoding, ...(sampleRate ? { sampleRate } : {}) });
  const parts = randomChunks(input, seed).map((c) => {
    const out = dec.push(c);
    if (out.head) heads.push(out.head);
    for (const p of out.packets) {
      expect(p.data.length).toBeGreaterThan(0);
      packetSamples += p.samples48k;
      packets++;
    }
    return out.pcm;
  });
  parts.push(dec.end());
  return { pcm: Buffer.concat(parts), heads, packetSamples, packets };
}

describe('createDecoder pcm_s16le', () => {
  it('passes 16 kHz PCM through unchanged whatever the chunk boundaries (odd splits included)', async () => {
    const input = readSharedPcm('real/jfk.wav');
    const { pcm } = await decodeAll('pcm_s16le', input, 1, 16000);
    expect(pcm.equals(input)).toBe(true);
  });

  it('gives back 16 kHz PCM without a copy when the chunk has its memory to itself, and copies a small view of a larger buffer (so the rest is not kept)', async () => {
    const decoder = await createDecoder({ encoding: 'pcm_s16le', sampleRate: 16000 });
    // A Socket.IO binary attachment: a view of its ws frame, a few bytes larger.
    const frame = Buffer.alloc(6400 + 60, 7);
    const chunk = frame.subarray(60);
    const own = decoder.push(chunk).pcm;
    expect(own.buffer).toBe(frame.buffer);
    expect(own.byteOffset).toBe(chunk.byteOffset);
    // 6,400 bytes of a 64 KiB read buffer: copied.
    const big = Buffer.alloc(65536, 3);
    const view = big.subarray(1000, 7400);
    const copied = decoder.push(view).pcm;
    expect(copied.buffer).not.toBe(big.buffer);
    expect(copied.equals(view)).toBe(true);
  });

  it.each([48000, 44100, 32000, 22050, 8000])('resamples %i Hz to 16 kHz keeping duration and a 1 kHz tone', async (rate) => {
    const input = tone(rate, 1000, 2);
    const { pcm } = await decodeAll('pcm_s16le', input, rate, rate);
    const out = samples(pcm);
    expect(Math.abs(out.length - 32000)).toBeLessThanOrEqual(1);
    // The tone keeps its frequency: nearly all power at 1 kHz, none at neighbouring frequencies.
    const mid = out.subarray(1600, out.length - 1600);
    const p1k = powerAt(mid, 16000, 1000);
    expect(p1k).toBeGreaterThan(100 * powerAt(mid, 16000, 900));
    expect(p1k).toBeGreaterThan(100 * powerAt(mid, 16000, 1100));
    // Amplitude preserved within 0.5 dB.
    expect(20 * Math.log10(rms(mid) / ((0.5 * 32767) / Math.SQRT2))).toBeCloseTo(0, 0);
  });

  it('removes content above 8 kHz when downsampling from 48 kHz (anti-alias low-pass)', async () => {
    const { pcm } = await decodeAll('pcm_s16le', tone(48000, 11000, 1), 2, 48000);
    const out = samples(pcm).subarray(800, 15200);
    // 11 kHz would alias to 5 kHz; the filter must keep it at least 50 dB down.
    expect(20 * Math.log10(rms(out) / ((0.5 * 32767) / Math.SQRT2))).toBeLessThan(-50);
  });

  it('rejects an unsupported sample rate or channel count with UnsupportedAudioFormatError', async () => {
    await expect(createDecoder({ encoding: 'pcm_s16le', sampleRate: 96000 })).rejects.toBeInstanceOf(UnsupportedAudioFormatError);
    await expect(createDecoder({ encoding: 'pcm_s16le', channels: 2 })).rejects.toBeInstanceOf(UnsupportedAudioFormatError);
    await expect(createDecoder({ encoding: 'mp3' as never })).rejects.toMatchObject({ code: 'unsupported_audio_format' });
  });
});

describe.each(['webm', 'ogg'] as const)('createDecoder %s_opus', (container) => {
  const encoding = container === 'webm' ? 'webm_opus' : 'ogg_opus';
  const original = readSharedPcm('real/1089-134686-0000.wav');

  it.each([true, false])('decodes MediaRecorder-style bytes in random chunks to aligned 16 kHz PCM (live=%s)', async (live) => {
    const bytes = await encodeOpus('real/1089-134686-0000.wav', container, live);
    const { pcm, heads, packetSamples, packets } = await decodeAll(encoding, bytes, 7);
    const out = samples(pcm);
    const ref = samples(original);
    // Pre-skip is removed, so the decoded length matches the original within one 20 ms packet.
    expect(Math.abs(out.length - ref.length)).toBeLessThanOrEqual(320);
    // Waveform lines up (no offset): normalised correlation at lag 0.
    let xy = 0;
    let xx = 0;
    let yy = 0;
    for (let i = 0; i < Math.min(out.length, ref.length); i++) {
      xy += out[i]! * ref[i]!;
      xx += out[i]! * out[i]!;
      yy += ref[i]! * ref[i]!;
    }
    expect(xy / Math.sqrt(xx * yy)).toBeGreaterThan(0.8);
    expect(heads).toHaveLength(1);
    expect(heads[0]).toMatchObject({ channels: 1, channelMappingFamily: 0 });
    expect(heads[0]!.raw.toString('latin1', 0, 8)).toBe('OpusHead');
    expect(packets).toBeGreaterThan(100);
    // Packet durations account for every output sample plus the pre-skip.
    expect(Math.abs(packetSamples / 3 - heads[0]!.preSkip / 3 - out.length)).toBeLessThanOrEqual(1);
  });

  it('downmixes a stereo Opus stream to mono of the same duration', async () => {
    const bytes = await encodeOpus('real/1089-134686-0000.wav', container, true, 2);
    const { pcm, heads } = await decodeAll(encoding, bytes, 5);
    expect(heads[0]?.channels).toBe(2);
    expect(Math.abs(pcm.length / 2 - original.length / 2)).toBeLessThanOrEqual(320);
    expect(rms(samples(pcm))).toBeGreaterThan(0.5 * rms(samples(original)));
  });

  it('throws InvalidAudioError for bytes that are not the container, at the first chunk', async () => {
    const dec = await createDecoder({ encoding });
    const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251));
    expect(() => dec.push(garbage)).toThrow(InvalidAudioError);
    dec.end();
  });

  it('keeps audio decoded before corruption and then throws InvalidAudioError', async () => {
    const encoded = await encodeOpus('real/1089-134686-0000.wav', container);
    const cut = Math.floor(encoded.length / 2);
    // A run of junk in the middle of the stream (WebM has no checksum: its structure must catch it).
    const bytes = Buffer.concat([encoded.subarray(0, cut), Buffer.alloc(64, 0x55), encoded.subarray(cut)]);
    const dec = await createDecoder({ encoding });
    const good = dec.push(bytes.subarray(0, cut - 2000)).pcm;
    expect(good.length).toBeGreaterThan(16000 * 2);
    let err: unknown;
    try {
      for (const c of randomChunks(bytes.subarray(cut - 2000), 3)) dec.push(c);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidAudioError);
    expect(err).toMatchObject({ code: 'invalid_audio' });
    dec.end();
  });
});
