/**
 * Honest status in Chromium (desktop and phone): a session cut short by a page that never came back
 * (`client_gone`) shows that reason on the list and on the transcript, an empty session is not
 * "Completed", and a clinician at the per-user limit sees their other live session on the recording
 * page and stops it there. axe reports nothing on any of these states.
 */
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations } from '../support/axe.js';
import { fakeMicrophone, launchChromium, logInOnPage } from '../support/browser.js';
import { tonePcm } from '../support/coverage.js';
import { DictationClient, pcmChunks } from '../support/dictation-client.js';
import { FakeEngine } from '../support/fake-engine.js';
import { seedTranscription } from '../support/seed.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

const MIC_WAV = path.resolve(import.meta.dirname, '../../../shared/audio/real/jfk.wav');
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

let t: TestService;
let browser: Browser;
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  t = await startTestService({ RESUME_GRACE_MS: '300', MAX_SESSIONS_PER_USER: '1' }, { engine: new FakeEngine({ wordsPerSecond: 2.5, wordsPerSegment: 4 }) });
  browser = await launchChromium(fakeMicrophone(MIC_WAV));
});
afterAll(async () => {
  for (const c of cleanups) c();
  await browser?.close();
  await t?.close();
});


describe.each(Object.entries(VIEWPORTS))('honest status (%s)', (_name, viewport) => {
  it('a client_gone session shows its reason in review, an empty one is not Completed, and a live one is stopped from the recording page', async () => {
    const clinician = await t.createUser('clinician');
    const http = t.client();
    await http.login(clinician.username, clinician.password);

    // A page that sends 3 s of audio and never comes back: the server ends it after the grace.
    const gone = new DictationClient(t.url, http.cookieHeader);
    cleanups.push(() => gone.close());
    expect((await gone.start({ title: 'Cut visit', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } })).ok).toBe(true);
    await gone.stream(pcmChunks(tonePcm(3000), 200));
    gone.close();
    await expect
      .poll(async () => (await queryDb<{ failure_reason: string }>(t.databaseUrl, 'SELECT failure_reason FROM transcriptions WHERE id = $1', [gone.transcriptionId]))[0]?.failure_reason, { timeout: 10_000 })
      .toBe('client_gone');
    await seedTranscription(t.databaseUrl, { clinicianId: clinician.id, title: 'Empty start', durationMs: 300 });
    // A live session in another "tab", still connected: the per-user limit (1 here) is reached.
    const other = new DictationClient(t.url, http.cookieHeader);
    cleanups.push(() => other.close());
    expect((await other.start({ title: 'Other tab', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } })).ok).toBe(true);
    await other.stream(pcmChunks(tonePcm(1000), 200));

    const context = await browser.newContext({ viewport, permissions: ['microphone'] });
    await context.setOffline(false);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    try {
      await page.goto(`${t.url}/review.html`);
      await logInOnPage(page, clinician);
      const row = (title: string) => page.locator('#list-body tr', { has: page.getByRole('link', { name: title }) });
      await expect.poll(() => row('Cut visit').locator('.badge').textContent()).toBe('Cut short: connection lost');
      expect(await row('Empty start').locator('.badge').textContent()).toBe('No audio');
      expect(await row('Other tab').locator('.badge').textContent()).toBe('Recording');
      expect(await page.locator('#list-body .badge', { hasText: 'Completed' }).count()).toBe(0);
      expect(await axeViolations(page)).toEqual([]);

      await page.getByRole('link', { name: 'Cut visit' }).click();
      await expect.poll(() => page.locator('#t-banner').textContent()).toMatch(/lost its connection/);
      expect(await page.locator('#t-meta .badge').textContent()).toBe('Cut short: connection lost');
      expect(await axeViolations(page)).toEqual([]);

      // The recording page: the other live session is listed; Record is refused until it is stopped.
      await page.goto(t.url);
      await expect.poll(() => page.locator('#live-list li').count(), { timeout: 10_000 }).toBe(1);
      expect(await page.locator('#live-list li').textContent()).toMatch(/0:01 recorded · open in another tab/);
      await page.locator('#record').click();
      await expect.poll(() => page.locator('#message').textContent()).toMatch(/as many live recordings as allowed/);
      expect(await axeViolations(page)).toEqual([]);
      await page.getByRole('button', { name: /Stop and save the recording/ }).click();
      await expect.poll(() => page.locator('#message').textContent(), { timeout: 15_000 }).toBe('The other recording was saved (0:01).');
      await expect.poll(() => page.locator('#live-sessions').isHidden()).toBe(true); // refreshed after the message
      await expect.poll(() => other.received.ended.length).toBe(1);
      await page.locator('#record').click();
      await expect.poll(() => page.locator('#record').textContent()).toBe('■ Stop');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 90_000);
});
