/**
 * Signed out in the middle of a recording (a logout in another tab; a login expiry looks the same to
 * the page): the recording page must not dead-end. It says so once, keeps recording into its ledger,
 * offers an inline login that resumes the SAME session without a reload, and the saved duration is
 * the one its timer showed. Desktop and phone viewports, with axe on every state and the keyboard
 * focus kept on the record control.
 */
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations } from '../support/axe.js';
import { fakeMicrophone, launchChromium, leastPageSessionMs } from '../support/browser.js';
import { FakeEngine } from '../support/fake-engine.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

const MIC_WAV = path.resolve(import.meta.dirname, '../../../shared/audio/real/jfk.wav');
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

let t: TestService;
let browser: Browser;

beforeAll(async () => {
  t = await startTestService({}, { engine: new FakeEngine({ wordsPerSecond: 2.5, wordsPerSegment: 4 }) });
  browser = await launchChromium(fakeMicrophone(MIC_WAV));
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

async function newContext(viewport: { width: number; height: number }): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport, permissions: ['microphone'] });
  // A container with only a loopback interface looks "offline" to Chromium; say the network is up.
  await context.setOffline(false);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => /Content Security Policy/i.test(m.text()) && problems.push(m.text()));
  return { context, page, problems };
}

const seconds = async (page: Page) => {
  const [m, s] = ((await page.locator('#elapsed').textContent()) ?? '0:0').split(':').map(Number);
  return m! * 60 + s!;
};
const focusedId = (page: Page) => page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } | null } }).document.activeElement?.id);

describe.each(Object.entries(VIEWPORTS))('recording page signed out mid-recording (%s)', (_name, viewport) => {
  it.each([
    ['logs in inline and goes on recording', false],
    ['Stop pressed while signed out saves after the inline login', true],
  ] as const)('%s: one saved, complete session whose duration is the timer', async (_label, stopFirst) => {
    const clinician = await t.createUser('clinician');
    const { context, page, problems } = await newContext(viewport);
    try {
      await page.goto(t.url);
      const login = page.locator('#login-form');
      await login.getByLabel('Username').fill(clinician.username);
      await login.getByLabel('Password').fill(clinician.password);
      await login.getByRole('button', { name: 'Log in' }).click();
      await expect.poll(() => page.locator('#connection').textContent()).toBe('Connected');
      expect(await axeViolations(page)).toEqual([]);

      // Start with the keyboard: the focus stays on the control while it starts.
      await page.locator('#record').focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('#record').textContent()).toBe('■ Stop');
      expect(await focusedId(page)).toBe('record');
      expect(await page.locator('#rec-badge').isVisible()).toBe(true);
      await expect.poll(() => page.title()).toMatch(/^● 00:0\d Recording/);
      await expect.poll(() => seconds(page), { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
      expect(await axeViolations(page)).toEqual([]);

      // Another tab of the same browser (the transcripts page) logs out.
      const other = await context.newPage();
      await other.goto(`${t.url}/review.html`);
      await other.getByRole('button', { name: 'Log out' }).click();
      await expect.poll(() => other.locator('#login-view').isVisible()).toBe(true);
      await other.close();

      await expect.poll(() => page.locator('#relogin').isVisible(), { timeout: 10_000 }).toBe(true);
      expect(await page.locator('#connection').textContent()).toBe('Signed out');
      await expect.poll(() => page.locator('#relogin-text').textContent()).toMatch(/holds \d+\.\d s of audio not yet sent/);
      // No "Reconnecting…" written over it while the page waits, and the recording goes on.
      const before = await seconds(page);
      await expect.poll(() => seconds(page), { timeout: 10_000 }).toBeGreaterThanOrEqual(before + 2);
      expect(await page.locator('#connection').textContent()).toBe('Signed out');
      expect(await page.locator('#record').textContent()).toBe('■ Stop');
      expect(await axeViolations(page)).toEqual([]);

      if (stopFirst) {
        await page.locator('#record').click();
        await expect.poll(() => page.locator('#record').textContent()).toBe('Saving…');
        expect(await page.locator('#record').getAttribute('aria-busy')).toBe('true');
        await expect.poll(() => page.locator('#relogin-text').textContent()).toMatch(/Log in to save it/);
      }

      const relogin = page.locator('#relogin-form');
      await relogin.getByLabel('Username').fill(clinician.username);
      await relogin.getByLabel('Password').fill(clinician.password);
      await relogin.getByRole('button', { name: 'Log in and continue' }).click();
      await expect.poll(() => page.locator('#relogin').isVisible()).toBe(false);

      if (!stopFirst) {
        await expect.poll(() => page.locator('#message').textContent(), { timeout: 15_000 }).toBe('Back online — all audio sent.');
        expect(await page.locator('#connection').textContent()).toBe('Connected');
        await page.waitForTimeout(1000);
        await page.locator('#record').focus();
        await page.keyboard.press('Enter');
      }
      await expect.poll(() => page.locator('#saved').isVisible(), { timeout: 30_000 }).toBe(true);
      expect(await focusedId(page)).toBe('record');
      expect(await page.locator('#record').textContent()).toBe('● Record');
      expect(await page.title()).not.toMatch(/Recording/);
      expect(await axeViolations(page)).toEqual([]);

      // One session, resumed, not restarted; its saved duration is what the timer shows.
      const rows = await queryDb<{ id: string; status: string; end_reason: string; duration_ms: string; ack_seq: string }>(
        t.databaseUrl,
        'SELECT id, status, end_reason, duration_ms, ack_seq FROM transcriptions WHERE clinician_id = $1',
        [clinician.id],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: 'completed', end_reason: 'stopped' });
      const durationMs = Number(rows[0]!.duration_ms);
      const shown = await seconds(page);
      expect(Math.floor(durationMs / 1000)).toBe(shown);
      expect(await page.locator('#saved').textContent()).toContain(`${Math.floor(shown / 60)}:${String(shown % 60).padStart(2, '0')}`);
      expect(durationMs).toBeGreaterThan(5000);
      const chunks = Number(rows[0]!.ack_seq) + 1;
      expect(durationMs).toBeGreaterThan(leastPageSessionMs(chunks)); // no chunk missing
      // The audit log tells the story: started, resumed after the inline login, stopped.
      const audit = await queryDb<{ action: string }>(t.databaseUrl, 'SELECT action FROM audit_log WHERE target_id = $1 ORDER BY id', [rows[0]!.id]);
      expect(audit.map((a) => a.action)).toEqual(['recording.start', 'recording.resume', 'recording.stop']);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 90_000);
});
