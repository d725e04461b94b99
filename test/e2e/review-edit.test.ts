import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, watchedPage, logInOnPage } from '../support/browser.js';
import { seedTranscription, storeRecording } from '../support/seed.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

/** The parts of HTMLMediaElement the test reads (the test project has no DOM lib). */
type AudioLike = { currentTime: number; paused: boolean; readyState: number; playbackRate: number };
type El = { matches(sel: string): boolean } | null;

let t: TestService;
let browser: Browser;
// A whole review in a browser: ~30 s on an idle 2-core machine, ~60 s with five engineers' tests on it.
const SLOW = { timeout: 180_000 };

beforeAll(async () => {
  t = await startTestService();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

/** Keyboard only: presses Tab until the focused element matches `selector` (at most 60 presses). */
async function tabTo(page: Page, selector: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((sel) => ((globalThis as unknown as { document: { activeElement: El } }).document.activeElement?.matches(sel) ?? false), selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}


describe('review and correct in Chromium', () => {
  it('a reviewer renames speakers, corrects two words and signs with the keyboard only; the exports carry the signed text and the JSON the machine text', SLOW, async () => {
    const clinician = await t.createUser('clinician');
    const reviewer = await t.createUser('reviewer');
    const id = await seedTranscription(t.databaseUrl, {
      clinicianId: clinician.id,
      title: 'Knee follow-up',
      durationMs: 11_000,
      segments: [
        { startMs: 0, endMs: 4200, text: 'Any pain in the left knee?', speaker: 'spk_0' },
        { startMs: 4200, endMs: 7600, text: 'Yes I take met a pro lol twice daily', speaker: 'spk_1' },
        { startMs: 7600, endMs: 11_000, text: 'and the swelling is worse at night', speaker: 'spk_1' },
      ],
    });
    await storeRecording(t.service, id, 'real/jfk.wav');

    const { page, problems } = await watchedPage(browser);
    try {
      await page.goto(`${t.url}/review.html#/t/${id}`);
      await logInOnPage(page, reviewer);
      await expect.poll(() => page.locator('#t-title').textContent()).toBe('Knee follow-up');
      expect(await page.locator('#t-version').textContent()).toContain('Version 1');

      // Rename both speakers: Tab to the form, choose with the arrow keys, type, Enter.
      for (const [from, to] of [
        ['spk_0', 'Clinician'],
        ['spk_1', 'Patient'],
      ] as const) {
        await tabTo(page, '#rename-from');
        while ((await page.locator('#rename-from').inputValue()) !== from) await page.keyboard.press('ArrowDown');
        await page.keyboard.press('Tab');
        await page.keyboard.type(to);
        await page.keyboard.press('Enter');
        await expect.poll(() => page.locator('#t-segments .speaker').allTextContents()).toContain(to);
      }
      expect(await page.locator('#t-segments .speaker').allTextContents()).toEqual(['Clinician', 'Patient', 'Patient']);

      // Two words wrong in line 2 ("met a pro lol" → "metoprolol") and one in line 1 (left → right).
      const audio = page.locator('#t-audio');
      await expect.poll(() => audio.evaluate((a: AudioLike) => a.readyState), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
      await page.locator('#t-title').focus();
      await tabTo(page, '#t-segments li.seg[data-index="1"] button.seg-edit');
      await page.keyboard.press('Enter');
      await expect.poll(() => page.evaluate(() => (globalThis as unknown as { document: { activeElement: El } }).document.activeElement?.matches('textarea.ed-text'))).toBe(true);
      // Playback keys work while the cursor is in the editor, without typing anything into it.
      await page.keyboard.press('Alt+KeyK');
      await expect.poll(() => audio.evaluate((a: AudioLike) => !a.paused)).toBe(true);
      await page.keyboard.press('Alt+KeyL');
      await expect.poll(() => audio.evaluate((a: AudioLike) => a.currentTime)).toBeGreaterThanOrEqual(5);
      // The playing line stays highlighted while editing (5 s + is line 2, the one being edited).
      await expect.poll(() => page.locator('#t-segments li.seg[data-index="1"]').getAttribute('class')).toContain('current');
      await page.keyboard.press('Alt+Period');
      expect(await audio.evaluate((a: AudioLike) => a.playbackRate)).toBe(1.25);
      await page.keyboard.press('Alt+KeyK');
      await expect.poll(() => audio.evaluate((a: AudioLike) => a.paused)).toBe(true);
      expect(await page.locator('textarea.ed-text').inputValue()).toBe('Yes I take met a pro lol twice daily');

      await page.keyboard.press('ControlOrMeta+KeyA');
      await page.keyboard.type('Yes I take metoprolol twice daily');
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('#t-segments li.seg[data-index="1"] .text').textContent()).toBe('Yes I take metoprolol twice daily');
      expect(await page.locator('#t-version').textContent()).toContain('Version 4');

      await page.locator('#t-title').focus();
      await tabTo(page, '#t-segments li.seg[data-index="0"] button.seg-edit');
      await page.keyboard.press('Enter');
      await page.keyboard.press('ControlOrMeta+KeyA');
      await page.keyboard.type('Any pain in the right knee?');
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('#t-segments li.seg[data-index="0"] .text').textContent()).toBe('Any pain in the right knee?');
      expect(await page.locator('#t-segments li.edited').count()).toBe(2);

      // Sign: Tab to the button, Enter, confirm with Enter.
      await tabTo(page, '#sign-btn');
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('#sign-confirm').isVisible()).toBe(true);
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('#t-version').textContent()).toContain(`Signed by ${reviewer.username}`);
      expect(await page.locator('#t-segments button.seg-edit').count()).toBe(0);
      expect(await page.locator('#rename-form').isVisible()).toBe(false);

      // The exports, downloaded with the page's own session.
      const get = async (format: string) => (await page.request.get(`${t.url}/api/transcriptions/${id}/export?format=${format}`)).text();
      const srt = await get('srt');
      expect(srt).toContain('Clinician: Any pain in the right knee?');
      expect(srt).toContain('Patient: Yes I take metoprolol twice daily');
      expect(srt).not.toContain('met a pro lol');
      const vtt = await get('vtt');
      expect(vtt).toContain('<v Patient>Yes I take metoprolol twice daily');
      expect(vtt).toContain(`NOTE Version 5, signed by ${reviewer.username}`);
      const json = JSON.parse(await get('json'));
      expect(json).toMatchObject({ status: 'signed', version: 5, signature: { version: 5, signedBy: { username: reviewer.username } } });
      expect(json.segments.map((s: { text: string; machineText: string; speaker: string }) => [s.speaker, s.text, s.machineText])).toEqual([
        ['Clinician', 'Any pain in the right knee?', 'Any pain in the left knee?'],
        ['Patient', 'Yes I take metoprolol twice daily', 'Yes I take met a pro lol twice daily'],
        ['Patient', 'and the swelling is worse at night', 'and the swelling is worse at night'],
      ]);
      expect(problems).toEqual([]);
    } finally {
      await page.context().close();
    }

    const actions = await queryDb<{ action: string; n: number }>(
      t.databaseUrl,
      `SELECT action, count(*)::int AS n FROM audit_log WHERE actor_id = $1 AND target_id = $2 AND outcome = 'success'
        AND action IN ('transcription.edit', 'transcription.speaker_rename', 'transcription.sign') GROUP BY action ORDER BY action`,
      [reviewer.id, id],
    );
    expect(actions).toEqual([
      { action: 'transcription.edit', n: 2 },
      { action: 'transcription.sign', n: 1 },
      { action: 'transcription.speaker_rename', n: 2 },
    ]);
  });

  it('a second reviewer editing a stale copy is told and shown the current text; nothing is lost', SLOW, async () => {
    const clinician = await t.createUser('clinician');
    const [first, second] = [await t.createUser('reviewer'), await t.createUser('reviewer')];
    const id = await seedTranscription(t.databaseUrl, {
      clinicianId: clinician.id,
      segments: [{ startMs: 0, endMs: 3000, text: 'Take two tablets daily', speaker: 'spk_0' }],
    });
    const { page, problems } = await watchedPage(browser);
    try {
      await page.goto(`${t.url}/review.html#/t/${id}`);
      await logInOnPage(page, second);
      await expect.poll(() => page.locator('#t-version').textContent()).toContain('Version 1');
      // Meanwhile the first reviewer saves a correction through the API.
      const other = t.client();
      await other.login(first.username, first.password);
      const seg = (await other.get(`/api/transcriptions/${id}`)).json.segments[0];
      expect((await other.request('PATCH', `/api/transcriptions/${id}/segments/${seg.id}`, { json: { text: 'Take two tablets twice daily', version: 1 } })).status).toBe(200);

      await page.locator('#t-segments button.seg-edit').click();
      await page.locator('textarea.ed-text').fill('Take three tablets daily');
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('#review-error').textContent()).toContain('Someone else changed this transcript');
      await expect.poll(() => page.locator('#t-segments li.seg .text').textContent()).toBe('Take two tablets twice daily');
      expect(await page.locator('#t-version').textContent()).toContain('Version 2');
      expect(problems).toEqual([]);
    } finally {
      await page.context().close();
    }
  });
});

describe('flagged words in Chromium', () => {
  it('highlights low-confidence, fallback and risky words, and sign-off counts the flagged words never looked at', SLOW, async () => {
    const clinician = await t.createUser('clinician');
    const reviewer = await t.createUser('reviewer');
    const id = await seedTranscription(t.databaseUrl, {
      clinicianId: clinician.id,
      segments: [
        {
          startMs: 0,
          endMs: 2000,
          text: 'Start warfarin 5 mg',
          words: [
            { text: 'Start', startMs: 0, endMs: 400, confidence: 0.99 },
            { text: 'warfarin', startMs: 400, endMs: 1000, confidence: 0.35 },
            { text: '5', startMs: 1000, endMs: 1400, confidence: 0.97 },
            { text: 'mg', startMs: 1400, endMs: 2000, confidence: 0.97 },
          ],
        },
        { startMs: 2000, endMs: 4000, text: 'no chest pain today', engine: 'local-fallback' },
        { startMs: 4000, endMs: 6000, text: 'see you next week' },
      ],
    });
    const { page, problems } = await watchedPage(browser);
    try {
      await page.goto(`${t.url}/review.html#/t/${id}`);
      await logInOnPage(page, reviewer);
      await expect.poll(() => page.locator('#t-segments li.seg').count()).toBe(3);
      const line0 = page.locator('#t-segments li.seg[data-index="0"]');
      expect(await line0.locator('.w.flag-low_confidence').textContent()).toBe('warfarin');
      expect(await line0.locator('.w.flag-low_confidence').getAttribute('title')).toBe('Check: low confidence, drug name (confidence 35%)');
      expect(await line0.locator('.w.flag-dose').allTextContents()).toEqual(['5', 'mg']);
      expect(await page.locator('#t-segments li.seg[data-index="1"] .w.flag-fallback').count()).toBe(4);
      expect(await page.locator('#t-segments li.seg[data-index="1"] .w.flag-negation').textContent()).toBe('no');
      expect(await page.locator('#t-segments li.seg[data-index="2"] .w.flagged').count()).toBe(0);
      expect(await line0.locator('.text').textContent()).toBe('Start warfarin 5 mg');

      // 3 + 4 flagged words, none looked at yet.
      await page.locator('#sign-btn').click();
      expect(await page.locator('#sign-question').textContent()).toContain('7 flagged words were never looked at');
      await page.locator('#sign-cancel').click();
      // Opening line 0 in the editor counts as looking at it.
      await line0.locator('button.seg-edit').click();
      await page.keyboard.press('Escape');
      await page.locator('#sign-btn').click();
      expect(await page.locator('#sign-question').textContent()).toContain('4 flagged words were never looked at');
      await page.locator('#sign-yes').click();
      await expect.poll(() => page.locator('#t-version').textContent()).toContain('Signed');
      expect(problems).toEqual([]);
    } finally {
      await page.context().close();
    }
    const rows = await queryDb<{ details: { unreviewedFlags: number } }>(
      t.databaseUrl,
      `SELECT details FROM audit_log WHERE target_id = $1 AND action = 'transcription.sign' AND outcome = 'success'`,
      [id],
    );
    expect(rows.map((r) => r.details.unreviewedFlags)).toEqual([4]);
  });
});

describe('redacted view in Chromium', () => {
  it('shows a reviewer set to redacted-by-default no name, date or phone number until they give a reason', SLOW, async () => {
    const clinician = await t.createUser('clinician');
    const nurse = await t.createUser('reviewer');
    const admin = await t.loggedIn('admin');
    expect((await admin.http.request('PUT', `/api/admin/users/${nurse.id}/redact-phi`, { json: { redactPhi: true } })).status).toBe(200);
    const id = await seedTranscription(t.databaseUrl, {
      clinicianId: clinician.id,
      title: 'Mrs Sharma review',
      segments: [{ startMs: 0, endMs: 4000, text: 'Mrs Sharma seen on 12/03/2026, phone 07700 900123' }],
    });
    const { page, problems } = await watchedPage(browser);
    try {
      await page.goto(`${t.url}/review.html#/t/${id}`);
      await logInOnPage(page, nurse);
      await expect.poll(() => page.locator('#t-segments li.seg .text').textContent()).toBe('Mrs [NAME] seen on [DATE], phone [PHONE]');
      const body = await page.locator('body').textContent();
      for (const p of ['Sharma', '12/03/2026', '07700']) expect(body).not.toContain(p);
      expect(await page.locator('#t-segments button.seg-edit').count()).toBe(0);
      await page.locator('#reveal-reason').fill('Checking the phone number with the patient');
      await page.getByRole('button', { name: 'Show in full' }).click();
      await expect.poll(() => page.locator('#t-segments li.seg .text').textContent()).toBe('Mrs Sharma seen on 12/03/2026, phone 07700 900123');
      expect(problems).toEqual([]);
    } finally {
      await page.context().close();
    }
    const rows = await queryDb<{ details: { reason: string } }>(t.databaseUrl, `SELECT details FROM audit_log WHERE action = 'transcription.reveal' AND target_id = $1`, [id]);
    expect(rows.map((r) => r.details.reason)).toEqual(['Checking the phone number with the patient']);
  });
});
