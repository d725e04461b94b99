import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/process.js';

/**
 * The benchmark harness keeps working (CI smoke: 5 sessions × 5 s, scripted Transcribe stand-in).
 * Checks the shape of the JSON and that nothing was lost; never the figures themselves.
 */
describe('npm run bench:smoke', () => {
  it('runs 5 real-time sessions end to end and prints one JSON summary with zero loss', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'bench.ts'), '--sessions', '5', '--seconds', '5', '--engine', 'aws', '--users', '2'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, stderr).toBe(0);
    const last = stdout.trim().split('\n').at(-1)!;
    const r = JSON.parse(last) as Record<string, any>;
    expect(r).toMatchObject({
      engine: 'aws',
      encoding: 'pcm_s16le',
      sessions: 5,
      sessionsStarted: 5,
      sessionsFailed: 0,
      chunksLost: 0,
      sessionsShortOfAudio: 0,
      errors: {},
      machine: { cpus: expect.any(Number), cpuModel: expect.any(String) },
    });
    expect(r.chunksSent).toBe(r.chunksAcked);
    expect(r.chunksSent).toBeGreaterThan(0);
    for (const key of ['ackLatencyMs', 'captionLatencyMs', 'captionLatencyServerAddedMs']) {
      expect(r[key], key).toMatchObject({ p50: expect.any(Number), p95: expect.any(Number), p99: expect.any(Number) });
    }
    expect(r.finals).toBeGreaterThan(0);
    expect(r.cpuCores).toMatchObject({ service: expect.any(Number), postgres: expect.any(Number), total: expect.any(Number) });
    expect(r.rssPeakMb.service).toBeGreaterThan(0);
    expect(typeof r.eventLoopDelayP99Ms).toBe('number');
    expect(r.engineErrors).toBe(0);
    expect(r.sessionStartMs).toMatchObject({ p50: expect.any(Number), p99: expect.any(Number), max: expect.any(Number), n: 5 });
    expect(r.sessionsStartedBySecond.at(-1)).toBe(5);
    expect(r.cpuMsPerSession).toMatchObject({ service: expect.any(Number), total: expect.any(Number) });
  }, 120_000);
});
