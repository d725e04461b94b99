import path from 'node:path';
import { type Browser } from 'playwright-core';
import { launchChromium, watchedPage, logInOnPage } from '../support/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/audit-log.js';
import { UserRepository } from '../../src/auth/users.js';
import { seedTranscription, storeRecording } from '../support/seed.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

const JFK = path.resolve(import.meta.dirname, '../../../shared/audio/real/jfk.wav');

/** The parts of HTMLMediaElement the test reads (the test project has no DOM lib). */
type AudioLike = { currentTime: number; duration: number; paused: boolean; readyState: number };

let t: TestService;
let browser: Browser;

beforeAll(async () => {
  t = await startTestService();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});


describe('review page in Chromium', () => {
  it('logs in, searches for a word, opens the transcript, and a click on a line seeks the audio there', async () => {
    const clinician = await t.createUser('clinician');
    const id = await seedTranscription(t.databaseUrl, {
      clinicianId: clinician.id,
      title: 'JFK inaugural excerpt',
      createdAt: '2026-05-01T10:00:00Z',
      durationMs: 11_000,
      segments: [
        { startMs: 0, endMs: 3200, text: 'And so my fellow Americans', speaker: 'Speaker 1' },
        { startMs: 3200, endMs: 4200, text: '', kind: 'gap' },
        { startMs: 4200, endMs: 7600, text: 'ask not what your country can do for you', speaker: 'Speaker 1' },
        { startMs: 7600, endMs: 11_000, text: 'ask what you can do for your country', speaker: 'Speaker 1', kind: 'provisional' },
      ],
    });
    await storeRecording(t.service, id, 'real/jfk.wav');
    await seedTranscription(t.databaseUrl, {
      clinicianId: clinician.id,
      title: '<img src=x onerror=alert(1)> other visit',
      createdAt: '2026-05-02T10:00:00Z',
      segments: [{ startMs: 0, endMs: 2000, text: 'Unrelated <b>dictation</b> about a sprained ankle.' }],
    });

    const { page, problems } = await watchedPage(browser);
    try {
      await page.goto(`${t.url}/review.html`);
      await logInOnPage(page, clinician);

      // The list, newest first; markup in a title is shown as text, never parsed.
      const rows = page.locator('#list-body tr');
      await expect.poll(() => rows.count()).toBe(2);
      expect(await page.locator('#list-body a.open').allTextContents()).toEqual(['<img src=x onerror=alert(1)> other visit', 'JFK inaugural excerpt']);
      expect(await page.locator('#list-body img').count()).toBe(0);
      expect(await page.locator('#f-clinician-field').isHidden()).toBe(true); // clinicians see only their own

      await page.getByLabel('Search the transcript text').fill('country');
      await page.getByRole('button', { name: 'Search' }).click();
      await expect.poll(() => page.locator('#list-body a.open').allTextContents()).toEqual(['JFK inaugural excerpt']);
      expect(await page.locator('#list-body mark').first().textContent()).toBe('country');

      await page.getByRole('link', { name: 'JFK inaugural excerpt' }).click();
      await expect.poll(() => page.locator('#t-title').textContent()).toBe('JFK inaugural excerpt');
      const segs = page.locator('#t-segments li.seg');
      expect(await segs.count()).toBe(4);
      // Gaps and provisional parts are marked, not missing.
      expect(await page.locator('#t-segments li.kind-gap').textContent()).toContain('No audio received');
      expect(await page.locator('#t-segments li.kind-provisional .kind').textContent()).toBe('Provisional');
      expect(await page.locator('#x-srt').getAttribute('href')).toBe(`/api/transcriptions/${id}/export?format=srt`);
      const audio = page.locator('#t-audio');
      expect(await audio.getAttribute('src')).toBe(`/api/transcriptions/${id}/audio`);
      await expect.poll(() => audio.evaluate((a: AudioLike) => a.readyState), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
      expect(await audio.evaluate((a: AudioLike) => a.duration)).toBeCloseTo(11, 0);

      expect(await audio.evaluate((a: AudioLike) => a.paused && a.currentTime === 0)).toBe(true);

      // Click the third line's text: the audio jumps to 4.2 s at once (not by playing there) and
      // that line is highlighted.
      await segs.nth(2).locator('.text').click();
      await expect
        .poll(() => audio.evaluate((a: AudioLike) => a.currentTime), { timeout: 2_000 })
        .toBeGreaterThanOrEqual(4.2);
      expect(await audio.evaluate((a: AudioLike) => a.currentTime)).toBeLessThan(6);
      await expect.poll(() => segs.nth(2).getAttribute('class')).toContain('current');
      expect(await page.locator('#t-segments li.current').count()).toBe(1);

      // The highlight follows playback: start in the gap (3.2 s) and let it play into the next line.
      await segs.nth(1).click();
      await expect.poll(() => segs.nth(1).getAttribute('class'), { timeout: 2_000 }).toContain('current');
      await expect.poll(() => segs.nth(2).getAttribute('class'), { timeout: 5_000 }).toContain('current');
      expect(await segs.nth(1).getAttribute('class')).not.toContain('current');
      expect(await audio.evaluate((a: AudioLike) => !a.paused)).toBe(true);

      // Keyboard: focus the last line's time button and press Enter.
      await segs.nth(3).locator('button.seg-btn').focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => audio.evaluate((a: AudioLike) => a.currentTime), { timeout: 2_000 }).toBeGreaterThanOrEqual(7.6);
      await expect.poll(() => segs.nth(3).getAttribute('class')).toContain('current');

      // Logging out leaves nothing of this user's data in the page.
      await page.getByRole('button', { name: 'Log out' }).click();
      await expect.poll(() => page.locator('#login-form').isVisible()).toBe(true);
      expect(await page.locator('#list-body tr, #t-segments li').count()).toBe(0);
      expect(await page.locator('body').textContent()).not.toContain('fellow Americans');
      expect(await audio.evaluate((a: AudioLike) => a.paused)).toBe(true);

      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }

    const actions = await queryDb<{ action: string }>(
      t.databaseUrl,
      `SELECT DISTINCT action FROM audit_log WHERE actor_id = $1 AND outcome = 'success'`,
      [clinician.id],
    );
    expect(actions.map((a) => a.action).sort()).toEqual(['login', 'logout', 'transcription.list', 'transcription.playback', 'transcription.search', 'transcription.view']);
  });

  it('shows an admin the users and audit sections and lets them add a user, without CSP violations', async () => {
    const admin = await t.createUser('admin');
    const { page, problems } = await watchedPage(browser);
    try {
      await page.goto(`${t.url}/review.html`);
      await logInOnPage(page, admin);
      await page.getByRole('link', { name: 'Users' }).click();
      await page.locator('#u-username').fill('new.nurse');
      await page.locator('#u-role').selectOption('reviewer');
      await page.locator('#u-password').fill('a-good-long-password');
      await page.getByRole('button', { name: 'Add user' }).click();
      await expect.poll(() => page.locator('#users-body td:first-child').allTextContents()).toContain('new.nurse');
      await page.getByRole('link', { name: 'Audit log' }).click();
      await expect.poll(() => page.locator('#audit-body td:nth-child(3)').allTextContents()).toContain('user.create');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
    expect(await queryDb(t.databaseUrl, `SELECT 1 FROM users WHERE username = 'new.nurse' AND role = 'reviewer'`)).toHaveLength(1);
  });
});
