/**
 * Every page state in Chromium at desktop and phone size: one h1, zero axe violations of any impact,
 * no sideways scrolling on a phone, the shared header on both pages, and the admin's confirmations
 * and readable audit log.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations } from '../support/axe.js';
import { launchChromium } from '../support/browser.js';
import { seedTranscription } from '../support/seed.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

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

type Doc = { document: { documentElement: { scrollWidth: number } }; innerWidth: number };
/** The page's state is fine: one visible h1, no axe finding, nothing wider than the screen. */
async function checkState(page: Page, h1: string | RegExp): Promise<void> {
  await expect.poll(() => page.locator('h1:visible').allTextContents()).toEqual([expect.stringMatching(h1)]);
  expect(await axeViolations(page)).toEqual([]);
  const { scroll, width } = await page.evaluate(() => ({ scroll: (globalThis as unknown as Doc).document.documentElement.scrollWidth, width: (globalThis as unknown as Doc).innerWidth }));
  expect(scroll).toBeLessThanOrEqual(width);
}

describe.each(Object.entries(VIEWPORTS))('pages (%s)', (_name, viewport) => {
  it('login pages, the list, a transcript, users, the vocabulary and the audit log: h1, axe-clean, fit the screen; confirmations and readable audit', async () => {
    const admin = await t.createUser('admin');
    const clinician = await t.createUser('clinician');
    const title = `Knee follow-up ${viewport.width}`;
    await seedTranscription(t.databaseUrl, {
      clinicianId: clinician.id,
      title,
      segments: [
        { startMs: 0, endMs: 2000, text: 'The knee swelling has gone down.' },
        { startMs: 2000, endMs: 4000, text: 'Continue the exercises.' },
      ],
    });
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const dialogs: string[] = [];
    let accept = false;
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void (accept ? d.accept() : d.dismiss());
    });
    try {
      // The recording page's login, then the transcripts page's: same header, same form.
      await page.goto(t.url);
      await checkState(page, 'Log in');
      await page.goto(`${t.url}/review.html`);
      await checkState(page, 'Log in');
      await page.locator('#login-form').getByRole('button', { name: 'Log in' }).click();
      await expect.poll(() => page.locator('#login-error').textContent()).toBe('Enter your username and password.');
      expect(await axeViolations(page)).toEqual([]);
      await page.locator('#login-form').getByLabel('Username').fill(admin.username);
      await page.locator('#login-form').getByLabel('Password').fill(admin.password);
      await page.locator('#login-form').getByRole('button', { name: 'Log in' }).click();

      await expect.poll(() => page.locator('#list-body a.open').allTextContents()).toContain(title);
      await checkState(page, 'Transcriptions');
      // On a phone each row is a card whose cells carry their column's name.
      const cellDisplay = await page.locator('#list-body td[data-label="Status"]').first().evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { display: string } }).getComputedStyle(el).display);
      expect(cellDisplay).toBe(viewport.width < 700 ? 'grid' : 'table-cell');
      // The shared header: both pages, one link each, the current one marked.
      expect(await page.locator('#nav a').allTextContents()).toEqual(['Record', 'Transcripts']);
      expect(await page.locator('#nav a[aria-current="page"]').textContent()).toBe('Transcripts');

      await page.getByRole('link', { name: title }).click();
      await expect.poll(() => page.locator('#t-title').textContent()).toBe(title);
      await checkState(page, title);
      // No engine gave speakers: no empty speaker column.
      expect(await page.locator('#t-segments').getAttribute('class')).toContain('no-speakers');
      expect(await page.locator('#t-segments .speaker').first().isVisible()).toBe(false);

      await page.getByRole('link', { name: 'Users' }).click();
      await expect.poll(() => page.locator('#users-body tr').count()).toBeGreaterThan(1);
      await checkState(page, 'Users');
      // A role change asks first; dismissed, nothing changes.
      const role = page.getByLabel(`Role of ${clinician.username}`);
      await role.selectOption('reviewer');
      await expect.poll(() => dialogs.length).toBe(1);
      expect(dialogs[0]).toMatch(`Change the role of ${clinician.username} from clinician to reviewer?`);
      expect(await role.inputValue()).toBe('clinician');
      expect((await queryDb<{ role: string }>(t.databaseUrl, 'SELECT role FROM users WHERE id = $1', [clinician.id]))[0]!.role).toBe('clinician');
      // Disabling asks too; accepted, it happens.
      accept = true;
      await page.locator('#users-body tr', { hasText: clinician.username }).getByRole('button', { name: 'Disable' }).click();
      await expect.poll(() => dialogs.length).toBe(2);
      expect(dialogs[1]).toMatch(`Disable ${clinician.username}?`);
      await expect.poll(async () => (await queryDb<{ disabled: boolean }>(t.databaseUrl, 'SELECT disabled_at IS NOT NULL AS disabled FROM users WHERE id = $1', [clinician.id]))[0]!.disabled).toBe(true);

      // The custom vocabulary of a specialty, with a term being entered.
      await page.getByRole('link', { name: 'Vocabulary' }).click();
      await expect.poll(() => page.locator('#v-state').textContent()).toContain('No terms saved yet');
      await page.getByRole('button', { name: 'Add term' }).click();
      await page.locator('#v-terms tr').last().getByLabel('Phrase').fill('tirzepatide');
      await checkState(page, 'Custom vocabulary');

      await page.getByRole('link', { name: 'Audit log' }).click();
      await expect.poll(() => page.locator('#audit-body tr').count()).toBeGreaterThan(0);
      await checkState(page, 'Audit log');
      // Names and titles, not UUIDs; details collapsed; filter by user.
      await page.locator('#a-actor').selectOption({ label: admin.username });
      await page.locator('#a-action').selectOption('transcription.view');
      await page.getByRole('button', { name: 'Filter' }).click();
      await expect.poll(() => page.locator('#audit-body td[data-label="Target"]').first().textContent()).toBe(`Transcript “${title}”`);
      expect(await page.locator('#audit-body td[data-label="Who"]').allTextContents()).toEqual([admin.username]);
      await page.locator('#a-action').selectOption('user.update');
      await page.getByRole('button', { name: 'Filter' }).click();
      await expect.poll(() => page.locator('#audit-body td[data-label="Target"]').first().textContent()).toBe(`User ${clinician.username}`);
      expect(await page.locator('#audit-body details[open]').count()).toBe(0);
      expect(await page.locator('#audit-body details summary').first().textContent()).toMatch(/disabled/);
      await checkState(page, 'Audit log');
    } finally {
      await context.close();
    }
  }, 120_000);
});
