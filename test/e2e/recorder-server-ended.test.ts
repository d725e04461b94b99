/**
 * A session the server ends (here at MAX_SESSION_MS) is not a dead end on the recording page: it says
 * why, what was saved (with the way to it), and Record starts a new one; axe reports nothing.
 */
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations } from '../support/axe.js';
import { fakeMicrophone, launchChromium } from '../support/browser.js';
import { FakeEngine } from '../support/fake-engine.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

const MIC_WAV = path.resolve(import.meta.dirname, '../../../shared/audio/real/jfk.wav');

let t: TestService;
let browser: Browser;

beforeAll(async () => {
  t = await startTestService({ MAX_SESSION_MS: '4000', IDLE_TIMEOUT_MS: '4000', RESUME_GRACE_MS: '1000' }, { engine: new FakeEngine() });
  browser = await launchChromium(fakeMicrophone(MIC_WAV, true));
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('recording page when the server ends the session', () => {
  it('says why and what was saved, links to it, and lets the clinician start again', async () => {
    const clinician = await t.createUser('clinician');
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, permissions: ['microphone'] });
    await context.setOffline(false);
    const page = await context.newPage();
    try {
      await page.goto(t.url);
      const form = page.locator('#login-form');
      await form.getByLabel('Username').fill(clinician.username);
      await form.getByLabel('Password').fill(clinician.password);
      await form.getByRole('button', { name: 'Log in' }).click();
      await expect.poll(() => page.locator('#connection').textContent()).toBe('Connected');
      await page.locator('#record').click();
      await expect.poll(() => page.locator('#message').textContent(), { timeout: 20_000 }).toMatch(/^The session reached its maximum length and the server ended it\. What it received \(0:0\d\) is saved; press Record to start a new recording\.$/);
      expect(await page.locator('#record').textContent()).toBe('● Record');
      expect(await page.locator('#rec-badge').isVisible()).toBe(false);
      const [row] = await queryDb<{ id: string; end_reason: string }>(t.databaseUrl, 'SELECT id, end_reason FROM transcriptions WHERE clinician_id = $1', [clinician.id]);
      expect(row!.end_reason).toBe('max_duration');
      expect(await page.getByRole('link', { name: 'Open the transcript' }).getAttribute('href')).toBe(`/review.html#/t/${row!.id}`);
      expect(await axeViolations(page)).toEqual([]);
      await page.locator('#record').click();
      await expect.poll(() => page.locator('#record').textContent()).toBe('■ Stop');
    } finally {
      await context.close();
    }
  }, 90_000);
});
