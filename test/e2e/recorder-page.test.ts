import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED_AUDIO, readReferences } from '../support/audio.js';
import { fakeMicrophone, launchChromium, watchedPage } from '../support/browser.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

const FILE = 'real/1089-134686-0000.wav';
const reference = readReferences('real').find((r) => r.file === '1089-134686-0000.wav')!.text.split(' ');

let t: TestService;
let browser: Browser;

beforeAll(async () => {
  // The real offline engine: this is the whole product path a clinician uses.
  t = await startTestService({ TRANSCRIBE_ENGINE: 'local' }, { engine: 'configured' });
  browser = await launchChromium(fakeMicrophone(path.join(SHARED_AUDIO, FILE)));
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('recording page in Chromium', () => {
  it('logs in, records real speech, shows its words live and saves the transcript and recording', async () => {
    const user = await t.createUser('clinician');
    const { page, problems } = await watchedPage(browser, t.url);
    await logInAndConnect(page, t.url, user);

    await page.getByLabel('Title').fill('Morning clinic');
    await page.getByLabel('Specialty').selectOption('PRIMARYCARE');
    await page.getByRole('button', { name: /Record/ }).click();
    await expect.poll(() => page.locator('#record').getAttribute('aria-pressed')).toBe('true');

    // Words appear while "speaking" (the 11 s file plays as the microphone).
    await expect
      .poll(async () => overlap((await page.locator('#transcript').textContent()) ?? ''), { timeout: 30_000, interval: 500 })
      .toBeGreaterThanOrEqual(4);
    await expect.poll(() => page.locator('#elapsed').textContent()).not.toBe('00:00');
    // Let the whole file play (10.4 s) before stopping.
    await expect.poll(async () => Number(((await page.locator('#elapsed').textContent()) ?? '0:0').split(':')[1]), { timeout: 30_000, interval: 250 }).toBeGreaterThanOrEqual(12);
    await page.getByRole('button', { name: /Stop/ }).click();
    await expect.poll(() => page.locator('#saved').isVisible(), { timeout: 30_000 }).toBe(true);
    expect(await page.locator('#saved').textContent()).toMatch(/Saved/);

    const finals = await page.locator('#transcript .segment.final').allTextContents();
    expect(finals.length).toBeGreaterThan(0);
    expect(await page.locator('#transcript .segment.partial').count()).toBe(0);

    const [row] = await queryDb<{ id: string; status: string; title: string; duration_ms: string }>(
      t.databaseUrl,
      'SELECT id, status, title, duration_ms FROM transcriptions WHERE clinician_id = $1',
      [user.id],
    );
    expect(row).toMatchObject({ status: 'completed', title: 'Morning clinic' });
    expect(Number(row!.duration_ms)).toBeGreaterThan(8000);
    const segments = await queryDb<{ text: string }>(t.databaseUrl, 'SELECT text FROM transcript_segments WHERE transcription_id = $1 ORDER BY start_ms', [row!.id]);
    const stored = segments.map((s) => s.text).join(' ');
    expect(overlap(stored), stored).toBeGreaterThanOrEqual(10);
    await expect
      .poll(async () => (await queryDb<{ upload_state: string }>(t.databaseUrl, 'SELECT upload_state FROM recordings WHERE transcription_id = $1', [row!.id]))[0]?.upload_state)
      .toBe('completed');
    expect(problems).toEqual([]);
  });

  it('falls back to MediaRecorder WebM/Opus where AudioWorklet is missing, and still transcribes and records', async () => {
    const user = await t.createUser('clinician');
    const { page, problems } = await watchedPage(browser, t.url);
    await page.addInitScript(() => {
      delete (globalThis as unknown as { AudioWorkletNode?: unknown }).AudioWorkletNode;
    });
    await logInAndConnect(page, t.url, user);
    await page.getByRole('button', { name: /Record/ }).click();
    await expect.poll(async () => Number(((await page.locator('#elapsed').textContent()) ?? '0:0').split(':')[1]), { timeout: 30_000, interval: 250 }).toBeGreaterThanOrEqual(12);
    await page.getByRole('button', { name: /Stop/ }).click();
    await expect.poll(() => page.locator('#saved').isVisible(), { timeout: 30_000 }).toBe(true);

    const [row] = await queryDb<{ id: string; audio_encoding: string; status: string; duration_ms: string }>(
      t.databaseUrl,
      'SELECT id, audio_encoding, status, duration_ms FROM transcriptions WHERE clinician_id = $1',
      [user.id],
    );
    expect(row).toMatchObject({ audio_encoding: 'webm_opus', status: 'completed' });
    expect(Number(row!.duration_ms)).toBeGreaterThan(8000);
    const segments = await queryDb<{ text: string }>(t.databaseUrl, 'SELECT text FROM transcript_segments WHERE transcription_id = $1 ORDER BY start_ms', [row!.id]);
    const stored = segments.map((s) => s.text).join(' ');
    expect(overlap(stored), stored).toBeGreaterThanOrEqual(8);
    await expect
      .poll(async () => (await queryDb<{ upload_state: string; content_type: string }>(t.databaseUrl, 'SELECT upload_state, content_type FROM recordings WHERE transcription_id = $1', [row!.id]))[0])
      .toMatchObject({ upload_state: 'completed', content_type: expect.stringMatching(/^audio\/ogg/) });
    expect(problems).toEqual([]);
  });

  it('says so clearly when the microphone is denied', async () => {
    const user = await t.createUser('clinician');
    const context = await browser.newContext(); // no microphone permission granted
    const page = await context.newPage();
    await page.addInitScript(() => {
      const nav = (globalThis as unknown as { navigator: { mediaDevices: { getUserMedia: () => Promise<never> } } }).navigator;
      nav.mediaDevices.getUserMedia = () => Promise.reject(Object.assign(new Error('denied'), { name: 'NotAllowedError' }));
    });
    await logInAndConnect(page, t.url, user);
    await page.getByRole('button', { name: /Record/ }).click();
    await expect.poll(() => page.locator('#message').textContent()).toMatch(/Microphone access was denied/);
    expect(await page.locator('#record').getAttribute('aria-pressed')).toBe('false');
    await context.close();
  });
});

/** Through the page's own login form, until the socket reports "Connected". */
async function logInAndConnect(page: Page, url: string, user: { username: string; password: string }): Promise<void> {
  await page.goto(url);
  const form = page.locator('#login-form');
  await form.getByLabel('Username').fill(user.username);
  await form.getByLabel('Password').fill(user.password);
  await form.getByRole('button', { name: 'Log in' }).click();
  await expect.poll(() => page.locator('#connection').textContent(), { timeout: 10_000 }).toBe('Connected');
}

/** How many distinct reference words appear in `text`. */
function overlap(text: string): number {
  const words = new Set(text.toLowerCase().replace(/[^a-z' ]/g, ' ').split(/\s+/));
  return new Set(reference.filter((w) => words.has(w))).size;
}
