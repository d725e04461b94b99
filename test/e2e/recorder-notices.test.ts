/**
 * The recording page shows the server's non-fatal notices (`session:notice`) in the clinician's words,
 * as a warning that does not stop the recording: here the speech engine fails over to the backup and
 * comes back, in Chromium, with fake engines at the port.
 */
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError } from '../../src/transcription/port.js';
import { fakeMicrophone, launchChromium, logInOnPage } from '../support/browser.js';
import { FakeEngine } from '../support/fake-engine.js';
import { startTestService, type TestService } from '../support/service.js';

const MIC_WAV = path.resolve(import.meta.dirname, '../../../shared/audio/real/jfk.wav');

let t: TestService;
let browser: Browser;
const primary = new FakeEngine({ faults: { startError: new ProviderError('busy', { retryable: true, code: 'engine_busy' }) } });
const fallback = new FakeEngine();

beforeAll(async () => {
  t = await startTestService({}, { engine: primary, fallbackEngine: fallback, resilience: { probeIntervalMs: 1000 } });
  browser = await launchChromium(fakeMicrophone(MIC_WAV, true));
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('recording page notices', () => {
  it('says the live text comes from the backup engine (a warning, still recording), then that the main engine is back', async () => {
    const clinician = await t.createUser('clinician');
    const context = await browser.newContext({ permissions: ['microphone'] });
    const page = await context.newPage();
    try {
      await page.goto(t.url);
      const t0 = Date.now();
      await logInOnPage(page, clinician);
      await expect.poll(() => page.locator('#connection').textContent()).toBe('Connected');
      await page.locator('#record').click();
      const message = page.locator('#message');
      await expect.poll(() => message.textContent(), { timeout: 20_000 }).toBe(
        'The live text now comes from the backup speech engine and may be less accurate for a while. Recording is not affected.',
      );
      expect(await message.getAttribute('class')).toBe('message warn');
      await expect.poll(() => page.locator('#record').textContent()).toBe('■ Stop');

      console.info(`failover shown ${Date.now() - t0} ms`);
      primary.setFaults({});
      await expect.poll(() => message.textContent(), { timeout: 20_000 }).toBe('The main speech engine is back; the live text continues from it.');
      expect(await message.getAttribute('class')).toBe('message ok');
      console.info(`recovery shown ${Date.now() - t0} ms`);
      await page.locator('#record').click();
      await expect.poll(() => page.locator('#saved').isVisible(), { timeout: 30_000 }).toBe(true);
    } finally {
      await context.close();
    }
  }, 180_000);
});
