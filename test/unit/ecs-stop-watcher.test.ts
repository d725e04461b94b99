import { describe, expect, it } from 'vitest';
import { watchEcsStop } from '../../src/lib/ecs-stop-watcher.js';
import { LogCapture } from '../support/log-capture.js';
import { createLogger } from '../../src/lib/logger.js';
import { MetadataStandIn } from '../support/ecs-emulator.js';

describe('watchEcsStop', () => {
  it('calls onStop once when the task metadata endpoint says DesiredStatus STOPPED, and stops polling', async () => {
    const metadata = await new MetadataStandIn().start();
    const logs = new LogCapture();
    let stops = 0;
    const unwatch = watchEcsStop({ metadataUri: metadata.url, intervalMs: 100, logger: createLogger({ level: 'info' }, logs), onStop: () => (stops += 1) });
    try {
      await expect.poll(() => metadata.polls).toBeGreaterThanOrEqual(2);
      expect(stops).toBe(0);
      metadata.stop();
      await expect.poll(() => stops).toBe(1);
      const polls = metadata.polls;
      await new Promise((r) => setTimeout(r, 300));
      expect(metadata.polls).toBe(polls);
      expect(stops).toBe(1);
      expect(logs.entries.map((l) => l.msg)).toContain('ecs_task_stopping');
    } finally {
      unwatch();
      await metadata.close();
    }
  });

  it('keeps polling an unreachable endpoint, warning once (SIGTERM stays the fallback)', async () => {
    const logs = new LogCapture();
    let stops = 0;
    const unwatch = watchEcsStop({ metadataUri: 'http://127.0.0.1:9/v4/none', intervalMs: 50, logger: createLogger({ level: 'info' }, logs), onStop: () => (stops += 1) });
    await new Promise((r) => setTimeout(r, 400));
    unwatch();
    expect(stops).toBe(0);
    expect(logs.entries.filter((l) => l.msg === 'ecs_metadata_unreachable')).toHaveLength(1);
  });
});
