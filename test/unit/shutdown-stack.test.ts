import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { ShutdownStack } from '../../src/lib/shutdown.js';
import { LogCapture } from '../support/log-capture.js';

function stack() {
  const logs = new LogCapture();
  return { logs, stack: new ShutdownStack(createLogger({ level: 'info' }, logs)) };
}

describe('ShutdownStack', () => {
  it('runs closers newest first, each once, however often run() is called', async () => {
    const { stack: s } = stack();
    const ran: string[] = [];
    for (const name of ['close_pool', 'close_store', 'close_http', 'drain_sessions']) s.push(name, () => void ran.push(name));
    const first = s.run(1000);
    expect(s.run(1000)).toBe(first);
    await first;
    await s.run(1000);
    expect(ran).toEqual(['drain_sessions', 'close_http', 'close_store', 'close_pool']);
  });

  it('waits for an async closer before the next one starts', async () => {
    const { stack: s } = stack();
    const ran: string[] = [];
    s.push('close_pool', () => void ran.push('close_pool'));
    s.push('drain_sessions', async () => {
      await new Promise((r) => setTimeout(r, 20));
      ran.push('drain_sessions');
    });
    await s.run(1000);
    expect(ran).toEqual(['drain_sessions', 'close_pool']);
  });

  it('logs a closer that throws or outlives the deadline and still runs the ones below it', async () => {
    const { stack: s, logs } = stack();
    const ran: string[] = [];
    s.push('close_pool', () => void ran.push('close_pool'));
    s.push('close_http', () => new Promise<void>(() => {}));
    s.push('drain_sessions', () => {
      throw new Error('boom');
    });
    const started = Date.now();
    await s.run(100);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(ran).toEqual(['close_pool']);
    expect(logs.entries.filter((e) => e.msg === 'shutdown_step_failed').map((e) => e.step)).toEqual(['drain_sessions', 'close_http']);
  });

  it('refuses a closer pushed once the stop has begun (it would never run)', async () => {
    const { stack: s } = stack();
    void s.run(1000);
    expect(s.started).toBe(true);
    expect(() => s.push('late', () => {})).toThrow(/too late/);
  });
});
