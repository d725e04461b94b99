/**
 * The live view is unmistakable (desktop and phone): a recording badge and the elapsed time in the
 * page and the tab title, a control bar that stays in view, the newest line kept in view (with
 * "Jump to live" once the reader scrolls away), provisional text labelled in words, and only
 * confirmed lines announced to screen readers.
 */
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations } from '../support/axe.js';
import { fakeMicrophone, launchChromium } from '../support/browser.js';
import { FakeEngine } from '../support/fake-engine.js';
import { startTestService, type TestService } from '../support/service.js';

const MIC_WAV = path.resolve(import.meta.dirname, '../../../shared/audio/real/jfk.wav');
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

let t: TestService;
let browser: Browser;

beforeAll(async () => {
  // Many short segments, so the transcript outgrows a phone screen within seconds.
  t = await startTestService({}, { engine: new FakeEngine({ wordsPerSecond: 6, wordsPerSegment: 3, partialEveryMs: 150 }) });
  browser = await launchChromium(fakeMicrophone(MIC_WAV, true));
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

type Win = { innerHeight: number; scrollTo(x: number, y: number): void; document: { querySelector(s: string): { getBoundingClientRect(): { top: number; bottom: number } } | null } };
const inView = (page: Page, selector: string) =>
  page.evaluate((sel) => {
    const w = globalThis as unknown as Win;
    const r = w.document.querySelector(sel)?.getBoundingClientRect();
    return !!r && r.top >= 0 && r.bottom <= w.innerHeight + 1;
  }, selector);

describe.each(Object.entries(VIEWPORTS))('live view (%s)', (name, viewport) => {
  it('shows the badge, the time in the title, keeps the bar and the newest line in view, labels provisional text and announces only confirmed lines', async () => {
    const clinician = await t.createUser('clinician');
    const context = await browser.newContext({ viewport, permissions: ['microphone'] });
    await context.setOffline(false);
    const page = await context.newPage();
    try {
      await page.goto(t.url);
      const form = page.locator('#login-form');
      await form.getByLabel('Username').fill(clinician.username);
      await form.getByLabel('Password').fill(clinician.password);
      await form.getByRole('button', { name: 'Log in' }).click();
      await expect.poll(() => page.locator('#connection').textContent()).toBe('Connected');
      expect(await page.locator('h1:visible').allTextContents()).toEqual(['New recording']);
      await page.locator('#record').click();
      await expect.poll(() => page.locator('#rec-badge').isVisible()).toBe(true);
      await expect.poll(() => page.title(), { timeout: 10_000 }).toMatch(/^● 00:0[1-9] Recording · arogya-live$/);

      // Provisional text carries a word label and the transcript itself is not a live region.
      await expect.poll(() => page.locator('#transcript .segment.partial .tag').count(), { timeout: 15_000 }).toBeGreaterThan(0);
      expect(await page.locator('#transcript .segment.partial .tag').first().getAttribute('aria-label')).toMatch(/Provisional/);
      expect(await page.locator('[aria-live]').evaluateAll((els) => els.map((e) => (e as unknown as { id: string }).id))).toEqual(['announcer']);
      await expect.poll(() => page.locator('#announcer p').count(), { timeout: 15_000 }).toBeGreaterThan(0);
      const finals = await page.locator('#transcript .segment.final').count();
      expect(finals).toBeGreaterThan(0);
      expect(await page.locator('#announcer').textContent()).not.toMatch(/listening/);
      expect(await axeViolations(page)).toEqual([]);

      if (name === 'phone') {
        // Enough lines to scroll: the newest one stays in view, and so does the control bar.
        await expect.poll(() => page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollHeight: number } } }).document.documentElement.scrollHeight > 844 + 200), { timeout: 30_000 }).toBe(true);
        await expect.poll(() => inView(page, '#transcript > :last-child')).toBe(true);
        expect(await inView(page, '#controls')).toBe(true);
        // The reader scrolls up: the page stops following and offers the way back.
        await page.evaluate(() => (globalThis as unknown as Win).scrollTo(0, 0));
        await expect.poll(() => page.locator('#jump-live').isVisible(), { timeout: 10_000 }).toBe(true);
        expect(await inView(page, '#transcript > :last-child')).toBe(false);
        expect(await axeViolations(page)).toEqual([]);
        await page.locator('#jump-live').click();
        await expect.poll(() => inView(page, '#transcript > :last-child')).toBe(true);
        expect(await page.locator('#jump-live').isVisible()).toBe(false);
      }
      await page.locator('#record').click();
      await expect.poll(() => page.locator('#saved').isVisible(), { timeout: 30_000 }).toBe(true);
      expect(await page.title()).toBe('Record · arogya-live');
      expect(await page.locator('#rec-badge').isVisible()).toBe(false);
    } finally {
      await context.close();
    }
  }, 120_000);
});
