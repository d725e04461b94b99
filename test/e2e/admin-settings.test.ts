/**
 * The admin's review settings in Chromium (issue 16): the redact-by-default switch of a user
 * (point 4) and a specialty's custom vocabulary (point 5), each checked through the API and in
 * the effect it has, not only in the page.
 */
import { type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, watchedPage, logInOnPage } from '../support/browser.js';
import { seedTranscription } from '../support/seed.js';
import { startTestService, type TestService } from '../support/service.js';

let t: TestService;
let browser: Browser;
const SLOW = { timeout: 120_000 };

beforeAll(async () => {
  t = await startTestService();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});


describe('admin settings for review in Chromium', () => {
  it('an admin ticks "PHI redacted by default" for a reviewer: that reviewer then gets the redacted transcript; unticking gives the full one back', SLOW, async () => {
    const admin = await t.createUser('admin');
    const reviewer = await t.createUser('reviewer');
    const clinician = await t.createUser('clinician');
    const id = await seedTranscription(t.databaseUrl, {
      clinicianId: clinician.id,
      title: 'Mrs Sharma review',
      segments: [{ startMs: 0, endMs: 4000, text: 'Mrs Sharma was seen on 12/03/2026', speaker: 'spk_0' }],
    });
    const reviewerHttp = t.client();
    await reviewerHttp.login(reviewer.username, reviewer.password);
    const detail = async () => (await reviewerHttp.get(`/api/transcriptions/${id}`)).json;
    expect((await detail()).redacted).toBeUndefined();

    const { page, problems } = await watchedPage(browser);
    try {
      await page.goto(`${t.url}/review.html#/users`);
      await logInOnPage(page, admin);
      const box = page.getByRole('checkbox', { name: `Redact PHI by default for ${reviewer.username}` });
      await expect.poll(() => box.isVisible()).toBe(true);
      expect(await box.isChecked()).toBe(false);
      await box.check();
      await expect.poll(() => page.locator('#flash').textContent()).toContain(`${reviewer.username} now sees transcripts with PHI redacted`);
      // The list the page reloads says so, and the reviewer's view is redacted.
      expect(await page.getByRole('checkbox', { name: `Redact PHI by default for ${reviewer.username}` }).isChecked()).toBe(true);
      const users = (await (await adminClient(admin)).get('/api/admin/users')).json.items as Array<{ id: string; redactPhi: boolean }>;
      expect(users.find((u) => u.id === reviewer.id)?.redactPhi).toBe(true);
      const red = await detail();
      expect(red.redacted).toBe(true);
      expect(JSON.stringify(red)).not.toContain('Sharma');
      expect(JSON.stringify(red)).not.toContain('12/03/2026');

      await page.getByRole('checkbox', { name: `Redact PHI by default for ${reviewer.username}` }).uncheck();
      await expect.poll(async () => (await detail()).redacted).toBeUndefined();
      expect(problems).toEqual([]);
    } finally {
      await page.context().close();
    }
  });

  it('an admin adds two terms to the Cardiology vocabulary and saves: the API has them, a new visit shows them (also when the load of the default specialty answers last), and a removed term is gone after the next save', SLOW, async () => {
    const admin = await t.createUser('admin');
    const { page, problems } = await watchedPage(browser);
    try {
      await page.goto(`${t.url}/review.html#/vocabulary`);
      await logInOnPage(page, admin);
      await expect.poll(() => page.locator('#vocabulary-view').isVisible()).toBe(true);
      await page.locator('#v-specialty').selectOption('CARDIOLOGY');
      await expect.poll(() => page.locator('#v-state').textContent()).toContain('No terms saved yet');
      // The fake engine of this test service is the offline kind of engine for the page.
      for (const [phrase, soundsLike, displayAs] of [
        ['tirzepatide', 'teer-zeh-pa-tide', 'Tirzepatide'],
        ['mavacamten', '', 'Mavacamten'],
      ]) {
        await page.locator('#v-add').click();
        const row = page.locator('#v-terms tr').last();
        await row.getByLabel('Phrase').fill(phrase!);
        if (soundsLike) await row.getByLabel('Sounds like').fill(soundsLike);
        await row.getByLabel('Display as').fill(displayAs!);
      }
      await page.locator('#v-save').click();
      await expect.poll(() => page.locator('#flash').textContent()).toContain('Vocabulary saved (2 terms)');
      const api = await adminClient(admin);
      const saved = (await api.get('/api/admin/vocabularies/CARDIOLOGY')).json.vocabulary;
      expect(saved).toMatchObject({
        version: 1,
        terms: [
          { phrase: 'tirzepatide', soundsLike: 'teer-zeh-pa-tide', displayAs: 'Tirzepatide' },
          { phrase: 'mavacamten', displayAs: 'Mavacamten' },
        ],
      });

      // The view's own load of the default specialty answers late, after Cardiology's: the table
      // must keep what the admin selected.
      let lateAnswered = false;
      await page.route('**/api/admin/vocabularies/PRIMARYCARE', async (route) => {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await route.continue();
        lateAnswered = true;
      });
      // A new navigation, not a reload: Chromium may restore the select's value on reload.
      await page.goto('about:blank');
      await page.goto(`${t.url}/review.html#/vocabulary`);
      await expect.poll(() => page.locator('#vocabulary-view').isVisible()).toBe(true);
      await page.locator('#v-specialty').selectOption('CARDIOLOGY');
      await expect.poll(() => page.locator('#v-terms tr').count()).toBe(2);
      await expect.poll(() => lateAnswered, { timeout: 10_000 }).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await page.locator('#v-terms tr').count()).toBe(2);
      await page.unroute('**/api/admin/vocabularies/PRIMARYCARE');
      expect(await page.locator('#v-terms tr').first().getByLabel('Phrase').inputValue()).toBe('tirzepatide');
      await page.locator('#v-terms tr').first().getByRole('button', { name: 'Remove' }).click();
      await page.locator('#v-save').click();
      await expect.poll(async () => (await api.get('/api/admin/vocabularies/CARDIOLOGY')).json.vocabulary.terms).toEqual([{ phrase: 'mavacamten', displayAs: 'Mavacamten' }]);
      expect(problems).toEqual([]);
    } finally {
      await page.context().close();
    }
  });
});

async function adminClient(admin: { username: string; password: string }) {
  const c = t.client();
  await c.login(admin.username, admin.password);
  return c;
}
