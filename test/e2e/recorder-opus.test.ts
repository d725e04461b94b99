/**
 * What the recording page sends (issue 15): Opus by default, encoded in Chromium by WebCodecs'
 * AudioEncoder and written into Ogg pages by the page (public/lib/ogg-opus-writer.js), about a tenth
 * of the bytes of 16 kHz PCM; the stored recording plays for as long as was recorded and the real
 * offline engine still understands the speech. "Lossless audio" (remembered in localStorage) still
 * sends PCM, and without WebCodecs the page falls back to MediaRecorder's WebM Opus.
 * The bytes are counted on the page's WebSocket (binary frames: Socket.IO's chunk attachments).
 */
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDecoder } from '../../src/audio/decoder.js';
import { SHARED_AUDIO, readReferences } from '../support/audio.js';
import { fakeMicrophone, launchChromium, logInOnPage, watchedPage } from '../support/browser.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

const FILE = 'real/1089-134686-0000.wav';
const reference = readReferences('real').find((r) => r.file === '1089-134686-0000.wav')!.text.split(' ');
/** 16 kHz 16-bit mono PCM: 32,000 bytes a second. */
const PCM_BYTES_PER_MIN = 32_000 * 60;

let t: TestService;
let browser: Browser;

beforeAll(async () => {
  // The real offline engine: the Opus the page makes must still be speech it recognises.
  t = await startTestService({ TRANSCRIBE_ENGINE: 'local' }, { engine: 'configured' });
  browser = await launchChromium(fakeMicrophone(path.join(SHARED_AUDIO, FILE)));
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

/** The page, logged in and connected, counting the binary bytes it sends on its WebSocket. */
async function recorderPage(user: { username: string; password: string }, init?: () => void): Promise<{ page: Page; problems: string[]; sent: () => number }> {
  const { page, problems } = await watchedPage(browser, t.url);
  if (init) await page.addInitScript(init);
  let bytes = 0;
  page.on('websocket', (ws) => ws.on('framesent', ({ payload }) => void (typeof payload === 'string' || (bytes += payload.length))));
  await page.goto(t.url);
  await logInOnPage(page, user);
  await expect.poll(() => page.locator('#connection').textContent(), { timeout: 10_000 }).toBe('Connected');
  return { page, problems, sent: () => bytes };
}

/** Records until the timer shows `seconds`, stops and waits for "Saved". */
async function record(page: Page, seconds: number): Promise<void> {
  await page.getByRole('button', { name: /Record/ }).click();
  await expect.poll(() => page.locator('#record').getAttribute('aria-pressed')).toBe('true');
  await expect.poll(async () => Number(((await page.locator('#elapsed').textContent()) ?? '0:0').split(':')[1]), { timeout: 40_000, interval: 250 }).toBeGreaterThanOrEqual(seconds);
  await page.getByRole('button', { name: /Stop/ }).click();
  await expect.poll(() => page.locator('#saved').isVisible(), { timeout: 30_000 }).toBe(true);
}

async function transcription(userId: string): Promise<{ id: string; audio_encoding: string; status: string; duration_ms: number }> {
  const [row] = await queryDb<{ id: string; audio_encoding: string; status: string; duration_ms: number }>(
    t.databaseUrl,
    'SELECT id, audio_encoding, status, duration_ms::int AS duration_ms FROM transcriptions WHERE clinician_id = $1',
    [userId],
  );
  return row!;
}

/** How many distinct reference words appear in `text`. */
function overlap(text: string): number {
  const words = new Set(text.toLowerCase().replace(/[^a-z' ]/g, ' ').split(/\s+/));
  return new Set(reference.filter((w) => words.has(w))).size;
}

describe('recording page audio encoding in Chromium', () => {
  it('sends Ogg Opus from WebCodecs by default at about a tenth of PCM’s bytes, and the stored recording plays for as long as was recorded', async () => {
    const user = await t.createUser('clinician');
    const { page, problems, sent } = await recorderPage(user);
    expect(await page.getByLabel('Lossless audio').isChecked()).toBe(false);
    await record(page, 12);

    const row = await transcription(user.id);
    expect(row).toMatchObject({ audio_encoding: 'ogg_opus', status: 'completed' });
    expect(row.duration_ms).toBeGreaterThan(11_000);
    const bytesPerMin = sent() / (row.duration_ms / 60_000);
    console.log(`page → server, Ogg Opus (WebCodecs): ${Math.round(bytesPerMin / 1000)} kB/min over ${row.duration_ms} ms (PCM: ${PCM_BYTES_PER_MIN / 1000} kB/min)`);
    expect(bytesPerMin).toBeLessThan(PCM_BYTES_PER_MIN * 0.15);
    expect(bytesPerMin).toBeGreaterThan(PCM_BYTES_PER_MIN * 0.03); // it is audio, not silence

    // The words arrived live and were stored.
    const finals = (await page.locator('#transcript .segment.final').allTextContents()).join(' ');
    expect(overlap(finals), finals).toBeGreaterThanOrEqual(8);

    // The recording, fetched over HTTP as the review page does, decodes to what was recorded…
    await expect
      .poll(async () => (await queryDb<{ upload_state: string }>(t.databaseUrl, 'SELECT upload_state FROM recordings WHERE transcription_id = $1', [row.id]))[0]?.upload_state, { timeout: 20_000 })
      .toBe('completed');
    const res = await page.request.get(`${t.url}/api/transcriptions/${row.id}/audio`);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toMatch(/^audio\/ogg/);
    const decoder = await createDecoder({ encoding: 'ogg_opus' });
    const body = await res.body();
    const pcm = Buffer.concat([decoder.push(body).pcm, decoder.end()]);
    expect(Math.abs((pcm.length / 2 / 16_000) * 1000 - row.duration_ms)).toBeLessThan(500);
    // …and plays in the browser for as long.
    const played = await page.evaluate(async (src) => {
      type Media = { duration: number; error: { code: number } | null; onloadedmetadata: () => void; onerror: () => void };
      const audio = new (globalThis as unknown as { Audio: new (src: string) => Media }).Audio(src);
      await new Promise<void>((resolve, reject) => {
        audio.onloadedmetadata = () => resolve();
        audio.onerror = () => reject(new Error(`media error ${audio.error?.code}`));
      });
      return audio.duration;
    }, `/api/transcriptions/${row.id}/audio`);
    expect(Math.abs(played * 1000 - row.duration_ms)).toBeLessThan(500);
    expect(problems).toEqual([]);
  }, 120_000);

  it('sends 16 kHz PCM when "Lossless audio" is ticked, and the page remembers the choice', async () => {
    const user = await t.createUser('clinician');
    const { page, problems, sent } = await recorderPage(user);
    await page.getByLabel('Lossless audio').check();
    await page.reload();
    await expect.poll(() => page.locator('#connection').textContent(), { timeout: 10_000 }).toBe('Connected');
    expect(await page.getByLabel('Lossless audio').isChecked()).toBe(true);
    const before = sent();
    await record(page, 4);

    const row = await transcription(user.id);
    expect(row).toMatchObject({ audio_encoding: 'pcm_s16le', status: 'completed' });
    const bytesPerMin = (sent() - before) / (row.duration_ms / 60_000);
    console.log(`page → server, PCM (lossless): ${Math.round(bytesPerMin / 1000)} kB/min over ${row.duration_ms} ms`);
    expect(bytesPerMin).toBeGreaterThan(PCM_BYTES_PER_MIN * 0.95);
    expect(bytesPerMin).toBeLessThan(PCM_BYTES_PER_MIN * 1.1);
    expect(problems).toEqual([]);
  }, 90_000);

  it('falls back to MediaRecorder WebM Opus where WebCodecs is missing', async () => {
    const user = await t.createUser('clinician');
    const { page, problems, sent } = await recorderPage(user, () => {
      delete (globalThis as unknown as { AudioEncoder?: unknown }).AudioEncoder;
    });
    await record(page, 4);
    const row = await transcription(user.id);
    expect(row).toMatchObject({ audio_encoding: 'webm_opus', status: 'completed' });
    const bytesPerMin = sent() / (row.duration_ms / 60_000);
    console.log(`page → server, WebM Opus (MediaRecorder): ${Math.round(bytesPerMin / 1000)} kB/min over ${row.duration_ms} ms`);
    expect(bytesPerMin).toBeLessThan(PCM_BYTES_PER_MIN * 0.2);
    expect(problems).toEqual([]);
  }, 90_000);
});
