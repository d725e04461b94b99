/**
 * Not a check: renders the screenshots in docs/screenshots/ (linked from the README) from the real
 * pages. Run with `SCREENSHOTS=1 npx vitest run test/e2e/screenshots.test.ts`; skipped otherwise.
 * pngquant, when installed, then cuts each PNG to a 64-colour palette (each well under 150 KB).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeMicrophone, launchChromium, logInOnPage } from '../support/browser.js';
import { tonePcm } from '../support/coverage.js';
import { DictationClient, pcmChunks } from '../support/dictation-client.js';
import { FakeEngine } from '../support/fake-engine.js';
import { seedTranscription } from '../support/seed.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

const OUT = path.resolve(import.meta.dirname, '../../docs/screenshots');
const MIC_WAV = path.resolve(import.meta.dirname, '../../../shared/audio/real/jfk.wav');
const DESKTOP = { width: 1100, height: 720 };
const PHONE = { width: 390, height: 844 };

let t: TestService;
let browser: Browser;

async function shot(page: Page, name: string): Promise<void> {
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file });
  try {
    execFileSync('pngquant', ['--force', '--skip-if-larger', '--output', file, '64', file]);
  } catch {
    /* pngquant missing (apt-get install pngquant): the PNG stays as Chromium wrote it */
  }
}


describe.skipIf(!process.env.SCREENSHOTS)('screenshots for the README', () => {
  beforeAll(async () => {
    t = await startTestService({ RESUME_GRACE_MS: '5000' }, { engine: new FakeEngine({ wordsPerSecond: 2.5, wordsPerSegment: 6 }) });
    browser = await launchChromium(fakeMicrophone(MIC_WAV, true));
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('renders the main states', async () => {
    const clinician = await t.createUser('clinician', 'dr.rao');
    const admin = await t.createUser('admin', 'admin');
    const day = (d: number, h: number) => `2026-11-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:15:00Z`;
    await seedTranscription(t.databaseUrl, { clinicianId: clinician.id, title: 'Follow-up, room 3', createdAt: day(27, 9), durationMs: 312_000, segments: [
      { startMs: 0, endMs: 4200, text: 'Good morning, how has the knee been since the injection?', speaker: 'spk_0' },
      { startMs: 4200, endMs: 9000, text: 'Much better. The swelling went down after about a week.', speaker: 'spk_1' },
      { startMs: 9000, endMs: 10_500, text: '', kind: 'gap' },
      { startMs: 10_500, endMs: 16_000, text: 'Good. Any pain on the stairs or when you kneel?', speaker: 'spk_0' },
      { startMs: 16_000, endMs: 21_000, text: 'A little on the stairs, nothing when kneeling.', speaker: 'spk_1', kind: 'provisional' },
    ] });
    await seedTranscription(t.databaseUrl, { clinicianId: clinician.id, title: 'Cardiology review', specialty: 'CARDIOLOGY', createdAt: day(26, 14), durationMs: 845_000, segments: [{ startMs: 0, endMs: 3000, text: 'Blood pressure one thirty over eighty five.' }] });
    await seedTranscription(t.databaseUrl, { clinicianId: clinician.id, title: 'Discharge letter', type: 'DICTATION', createdAt: day(25, 11), durationMs: 128_000, segments: [{ startMs: 0, endMs: 3000, text: 'Discharge summary.' }] });
    await seedTranscription(t.databaseUrl, { clinicianId: clinician.id, title: 'Ward round', createdAt: day(24, 8), durationMs: 400 });
    const words = (text: string, startMs: number, endMs: number, low: string[] = []) => {
      const parts = text.split(' ');
      const step = (endMs - startMs) / parts.length;
      return parts.map((w, i) => ({ text: w, startMs: Math.round(startMs + i * step), endMs: Math.round(startMs + (i + 1) * step), confidence: low.includes(w) ? 0.41 : 0.97 }));
    };
    const medsText = [
      'Any pain in the left knee since we started the tablets?',
      'No, but I get dizzy when I stand up.',
      'You take met a pro lol 25 mg twice daily and ramipril 5 mg at night?',
    ];
    await seedTranscription(t.databaseUrl, { clinicianId: clinician.id, title: 'Medication review, Mr Iyer', createdAt: day(28, 10), durationMs: 18_000, segments: [
      { startMs: 0, endMs: 4000, text: medsText[0]!, speaker: 'spk_0', words: words(medsText[0]!, 0, 4000) },
      { startMs: 4000, endMs: 8000, text: medsText[1]!, speaker: 'spk_1', words: words(medsText[1]!, 4000, 8000) },
      { startMs: 8000, endMs: 14_000, text: medsText[2]!, speaker: 'spk_0', words: words(medsText[2]!, 8000, 14_000, ['met', 'pro', 'lol']), engine: 'local' },
    ] });
    const http = t.client();
    await http.login(clinician.username, clinician.password);
    const gone = new DictationClient(t.url, http.cookieHeader);
    await gone.start({ title: 'Home visit (connection lost)', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } });
    await gone.stream(pcmChunks(tonePcm(6000), 200));
    gone.close();
    await expect.poll(async () => (await queryDb<{ status: string }>(t.databaseUrl, 'SELECT status FROM transcriptions WHERE id = $1', [gone.transcriptionId]))[0]?.status, { timeout: 30_000 }).toBe('completed');

    // The recording page: idle, live, signed out mid-recording.
    const ctx = await browser.newContext({ viewport: DESKTOP, permissions: ['microphone'] });
    await ctx.setOffline(false);
    const page = await ctx.newPage();
    await page.goto(t.url);
    await shot(page, '1-login');
    await logInOnPage(page, clinician);
    await expect.poll(() => page.locator('#connection').textContent()).toBe('Connected');
    await page.getByLabel(/Title/).fill('Follow-up, room 3');
    await shot(page, '2-record-ready');
    await page.locator('#record').click();
    await expect.poll(() => page.locator('#transcript .segment.final').count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
    await expect.poll(() => page.locator('#transcript .segment.partial').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await shot(page, '3-recording-live');
    const other = await ctx.newPage();
    await other.goto(`${t.url}/review.html`);
    await other.getByRole('button', { name: 'Log out' }).click();
    await other.close();
    await expect.poll(() => page.locator('#relogin').isVisible(), { timeout: 10_000 }).toBe(true);
    await page.waitForTimeout(2000);
    await shot(page, '4-signed-out-inline-login');
    await ctx.close();

    // The phone while recording.
    const phone = await browser.newContext({ viewport: PHONE, permissions: ['microphone'], deviceScaleFactor: 1 });
    await phone.setOffline(false);
    const p = await phone.newPage();
    await p.goto(t.url);
    await logInOnPage(p, clinician);
    await expect.poll(() => p.locator('#connection').textContent()).toBe('Connected');
    await p.locator('#record').click();
    await expect.poll(() => p.locator('#transcript .segment.final').count(), { timeout: 40_000 }).toBeGreaterThanOrEqual(6);
    await shot(p, '5-phone-recording');
    await p.locator('#record').click();
    await expect.poll(() => p.locator('#saved').isVisible(), { timeout: 30_000 }).toBe(true);
    await p.goto(`${t.url}/review.html`);
    await expect.poll(() => p.locator('#list-body tr').count()).toBeGreaterThan(3);
    await shot(p, '6-phone-transcripts');
    await phone.close();

    // The transcripts page and the audit log.
    const rctx = await browser.newContext({ viewport: DESKTOP });
    const r = await rctx.newPage();
    await r.goto(`${t.url}/review.html`);
    await logInOnPage(r, admin);
    await expect.poll(() => r.locator('#list-body tr').count()).toBeGreaterThan(3);
    await shot(r, '7-transcripts-list');
    await r.getByRole('link', { name: 'Follow-up, room 3' }).last().click();
    await expect.poll(() => r.locator('#t-title').textContent()).toBe('Follow-up, room 3');
    await shot(r, '8-transcript');
    await r.getByRole('link', { name: 'Home visit (connection lost)' }).count();
    await r.goto(`${t.url}/review.html#/audit`);
    await expect.poll(() => r.locator('#audit-body tr').count()).toBeGreaterThan(3);
    await shot(r, '9-audit-log');

    // Review and correct: flagged words, a segment being edited, the sign-off question; the vocabulary.
    await r.goto(`${t.url}/review.html`);
    await r.getByRole('link', { name: 'Medication review, Mr Iyer' }).last().click();
    await expect.poll(() => r.locator('#t-title').textContent()).toBe('Medication review, Mr Iyer');
    await r.locator('#t-segments li.seg[data-index="2"] button.seg-edit').click();
    await r.locator('textarea.ed-text').fill('You take metoprolol 25 mg twice daily and ramipril 5 mg at night?');
    await r.locator('#t-segments li.seg[data-index="0"]').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await shot(r, '10-transcript-editing');
    await r.keyboard.press('Enter');
    await expect.poll(() => r.locator('#t-segments li.edited').count()).toBe(1);
    await r.locator('#sign-btn').click();
    await expect.poll(() => r.locator('#sign-confirm').isVisible()).toBe(true);
    await shot(r, '11-sign-off');
    await r.goto(`${t.url}/review.html#/vocabulary`);
    await expect.poll(() => r.locator('#vocabulary-view').isVisible()).toBe(true);
    await r.locator('#v-specialty').selectOption('CARDIOLOGY');
    await expect.poll(() => r.locator('#v-state').textContent()).toContain('No terms saved yet');
    for (const [phrase, soundsLike, displayAs] of [['metoprolol', 'meh-toe-pro-lol', 'metoprolol'], ['tirzepatide', 'teer-zeh-pa-tide', 'tirzepatide']] as const) {
      await r.locator('#v-add').click();
      const row = r.locator('#v-terms tr').last();
      await row.getByLabel('Phrase').fill(phrase);
      await row.getByLabel('Sounds like').fill(soundsLike);
      await row.getByLabel('Display as').fill(displayAs);
    }
    await r.locator('#v-save').click();
    await expect.poll(() => r.locator('#flash').textContent()).toContain('Vocabulary saved (2 terms)');
    await shot(r, '12-vocabulary');
    await rctx.close();
  }, 240_000);
});
