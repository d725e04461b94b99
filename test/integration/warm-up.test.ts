import { describe, expect, it } from 'vitest';
import { warmUp } from '../../src/composition/warm-up.js';
import { freePort } from '../../src/lib/free-port.js';
import { createLogger } from '../../src/lib/logger.js';
import { LogCapture } from '../support/log-capture.js';
import { startTestService } from '../support/service.js';

const quiet = () => createLogger({ level: 'warn' }, new LogCapture());

describe('start-up warm-up (src/composition/warm-up.ts)', () => {
  it('runs the real chunk path on synthetic audio: every decoder, the framer, the engine wrapper, Socket.IO acks on loopback, and the Transcribe SDK signing and parsing in the process', async () => {
    const logs = new LogCapture();
    const r = await warmUp({ engine: 'aws', region: 'us-east-1', chunks: 30 }, createLogger({ level: 'debug' }, logs));
    // 16 kHz PCM is passed through: 30 chunks of 200 ms, 6,400 bytes each.
    expect(r.decoded['pcm_s16le@16000']).toEqual({ chunks: 30, pcmBytes: 30 * 6400 });
    // The resampler (48 kHz in) holds back part of its filter's width until the end: about 5 × 6,400.
    expect(r.decoded['pcm_s16le@48000']!.chunks).toBe(5);
    expect(r.decoded['pcm_s16le@48000']!.pcmBytes).toBeGreaterThan(5 * 6400 - 400);
    // Opus went through the demuxers and came back decoded from the worker (pre-skip trimmed).
    for (const k of ['ogg_opus', 'webm_opus']) {
      expect(r.decoded[k]!.chunks, k).toBe(5);
      expect(r.decoded[k]!.pcmBytes, k).toBeGreaterThan(5 * 6400 - 1000);
    }
    // Opus as a passed-through session takes it (TRANSCRIBE_AUDIO=opus): demuxed without decoding from
    // bytes cut mid-element and mid-page (45 cuts of 30 chunks), every one of the 300 packets of 20 ms
    // (the OpusHead and OpusTags are not audio), then through the wrapper's writeOpus, each cut that
    // completed a packet.
    for (const k of ['ogg_opus', 'webm_opus'] as const) {
      expect(r.passthrough?.[k]?.packets, k).toBe(300);
      expect(r.passthrough?.[k]?.chunks, k).toBe(45);
    }
    expect(r.opusChunks).toBe(r.passthrough!.ogg_opus!.withPackets + r.passthrough!.webm_opus!.withPackets);
    expect(r.opusChunks).toBeGreaterThan(60);
    // Every whole 100 ms frame of all of it went through the framer, the meter and the wrapper.
    const pcm = Object.values(r.decoded).reduce((s, d) => s + d.pcmBytes, 0);
    expect(r.frames).toBe(Math.floor(pcm / 3200));
    // The SDK signed and framed one audio event per chunk (each: 3,200 bytes of audio plus the
    // signature and date headers, the prelude and the CRCs) and parsed one result per chunk back.
    expect(r.transcribe).toMatchObject({ audioEvents: 30, results: 30 });
    expect(r.transcribe!.signedBytes).toBeGreaterThan(30 * (3200 + 100));
    // Binary events acked through Socket.IO on loopback, one per chunk.
    expect(r.socketIo).toEqual({ acks: 30 });
    expect(logs.text()).not.toContain('warm_up_step_failed');
  }, 120_000);

  it('leaves the Transcribe SDK alone for the offline engine', async () => {
    const r = await warmUp({ engine: 'local', region: 'us-east-1', chunks: 6 }, quiet());
    expect(r.transcribe).toBeUndefined();
    expect(r.decoded['pcm_s16le@16000']).toEqual({ chunks: 6, pcmBytes: 6 * 6400 });
  });

  it('the service does not listen (so /health does not answer) until the warm-up is over', async () => {
    const port = await freePort();
    let release!: () => void;
    let called = false;
    const gate = new Promise<void>((r) => (release = r));
    const starting = startTestService(
      { PORT: String(port) },
      {
        warmUp: async () => {
          called = true;
          await gate;
          return { ms: 1, decoded: {}, frames: 0 };
        },
      },
    );
    try {
      await expect.poll(() => called, { timeout: 60_000 }).toBe(true);
      await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
      release();
      const t = await starting;
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health`);
        expect(res.status).toBe(200);
        expect(t.service.warmUp).toEqual({ ms: 1, decoded: {}, frames: 0 });
      } finally {
        await t.close();
      }
    } finally {
      release();
    }
  }, 120_000);

  it('with WARM_UP_CHUNKS set the service warms up before it listens, and logs what ran', async () => {
    const t = await startTestService({ WARM_UP_CHUNKS: '12', TRANSCRIBE_ENGINE: 'aws', AWS_REGION: 'us-east-1' });
    try {
      expect(t.service.warmUp?.decoded['pcm_s16le@16000']).toEqual({ chunks: 12, pcmBytes: 12 * 6400 });
      expect(t.service.warmUp?.transcribe?.audioEvents).toBe(12);
      const msgs = t.logs.entries.map((e) => e.msg);
      expect(msgs).toContain('warm_up_done');
      expect(msgs.indexOf('warm_up_done')).toBeLessThan(msgs.indexOf('service_listening'));
      expect(t.logs.entries.find((e) => e.msg === 'warm_up_done')).toMatchObject({ socketIo: { acks: 12 }, transcribe: { audioEvents: 12, results: 12 } });
    } finally {
      await t.close();
    }
  }, 120_000);
});
