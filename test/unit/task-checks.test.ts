import fs from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { diskCheck, eventLoopCheck } from '../../src/health/task-checks.js';

describe('task health checks', () => {
  it('reports a stuck event loop (a 1.5 s synchronous block), then a free one again', async () => {
    const check = eventLoopCheck(1000);
    try {
      await new Promise((r) => setTimeout(r, 100));
      await expect(check()).resolves.toMatchObject({ maxLagMs: expect.any(Number) });
      const until = Date.now() + 1500;
      while (Date.now() < until) {
        /* a runaway synchronous loop */
      }
      await new Promise((r) => setTimeout(r, 50));
      await expect(check()).rejects.toMatchObject({ code: 'event_loop_stuck' });
      await new Promise((r) => setTimeout(r, 200));
      await expect(check()).resolves.toMatchObject({ maxLagMs: expect.any(Number) });
    } finally {
      check.close();
    }
  });

  it('reports the spool disk as full below the free-space floor', async () => {
    const free = fs.statfsSync(os.tmpdir());
    const freeBytes = free.bavail * free.bsize;
    await expect(diskCheck(os.tmpdir(), 1)()).resolves.toMatchObject({ freeMiB: expect.any(Number) });
    await expect(diskCheck(os.tmpdir(), freeBytes * 2)()).rejects.toMatchObject({ code: 'disk_full' });
  });
});
