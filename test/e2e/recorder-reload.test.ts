/**
 * The recording page in a real Chromium with a fake microphone (a WAV file): the network goes away
 * mid-session (the page keeps recording into its ledger and says how much is buffered), and the tab
 * is reloaded before the buffered audio could be sent. The reloaded page must find the session in
 * IndexedDB, resume it and resend, so the one stored recording and transcript cover the audio.
 */
import path from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { launchChromium, leastPageSessionMs } from '../support/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coverageProblems } from '../support/coverage.js';
import { FakeEngine } from '../support/fake-engine.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

const MIC_WAV = path.resolve(import.meta.dirname, '../../../shared/audio/real/jfk.wav');

let t: TestService;
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  t = await startTestService({}, { engine: new FakeEngine({ wordsPerSecond: 2.5, wordsPerSegment: 4 }) });
  browser = await launchChromium(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${MIC_WAV}`]);
  context = await browser.newContext();
  // A container with only a loopback interface looks "offline" to Chromium, which then refuses
  // WebSockets even to 127.0.0.1; say explicitly that the network is up.
  await context.setOffline(false);
});
afterAll(async () => {
  await context?.close();
  await browser?.close();
  await t?.close();
});

async function watchedPage(): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => process.env.DEBUG_PAGE && console.log('PAGE', m.text()));
  // A reload during a recording asks "leave the page?": the clinician says yes.
  page.on('dialog', (d) => void d.accept());
  return { page, problems };
}

describe('recording page in Chromium', () => {
  it('keeps recording through a network loss, survives a tab reload with unsent audio, and stores one complete session', async () => {
    const clinician = await t.createUser('clinician');
    const { page, problems } = await watchedPage();
    await page.goto(`${t.url}/`);
    const form = page.locator('#login-form');
    await form.getByLabel('Username').fill(clinician.username);
    await form.getByLabel('Password').fill(clinician.password);
    await form.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.locator('#connection').getAttribute('data-state')).toBe('connected');

    await page.locator('#record').click();
    await expect.poll(() => page.locator('#record').textContent()).toBe('■ Stop');
    await page.waitForTimeout(2500);

    // The network goes away: recording goes on into the ledger, and the page says how much waits.
    await context.setOffline(true);
    await expect.poll(() => page.locator('#connection').textContent(), { timeout: 10_000 }).toMatch(/Reconnecting… \(\d+\.\d s buffered\)/);
    await page.waitForTimeout(2000);
    // Back online, but the tab is reloaded before the page could send what it buffered.
    await context.setOffline(false);
    await page.reload();

    await expect.poll(() => page.locator('#connection').getAttribute('data-state'), { timeout: 15_000 }).toBe('connected');
    await expect.poll(() => page.locator('#record').textContent(), { timeout: 10_000 }).toBe('■ Stop');
    await page.waitForTimeout(2500);
    await page.locator('#record').click();
    await expect.poll(() => page.locator('#saved').isVisible(), { timeout: 30_000 }).toBe(true);
    expect(problems).toEqual([]);

    // One session, resumed rather than restarted, with every chunk from 0 to ackSeq and no gap.
    const rows = await queryDb<{ id: string; status: string; end_reason: string; duration_ms: string; ack_seq: string; audio_encoding: string }>(
      t.databaseUrl,
      'SELECT id, status, end_reason, duration_ms, ack_seq, audio_encoding FROM transcriptions WHERE clinician_id = $1',
      [clinician.id],
    );
    expect(rows).toHaveLength(1);
    const tr = rows[0]!;
    // The page's default, WebCodecs Opus in its own Ogg pages: the reloaded page continues the stream.
    expect(tr).toMatchObject({ status: 'completed', end_reason: 'stopped', audio_encoding: 'ogg_opus' });
    const durationMs = Number(tr.duration_ms);
    // 2.5 s before the loss + 2 s offline (buffered, sent after the reload) + 2.5 s after it.
    expect(durationMs).toBeGreaterThan(6000);
    // Every chunk is 200 ms but the last (20 to 200 ms): nothing between 0 and ackSeq is missing.
    const chunks = Number(tr.ack_seq) + 1;
    expect(durationMs).toBeGreaterThan(leastPageSessionMs(chunks));
    expect(durationMs).toBeLessThanOrEqual(chunks * 200);
    expect(t.service.counters.get('session_resumes_total')).toBeGreaterThanOrEqual(1);

    await expect
      .poll(async () => (await queryDb<{ upload_state: string }>(t.databaseUrl, 'SELECT upload_state FROM recordings WHERE transcription_id = $1', [tr.id]))[0]?.upload_state, { timeout: 15_000 })
      .toBe('completed');
    const [rec] = await queryDb<{ duration_ms: string; gaps: unknown[] }>(t.databaseUrl, 'SELECT duration_ms, gaps FROM recordings WHERE transcription_id = $1', [tr.id]);
    expect(Math.abs(Number(rec!.duration_ms) - durationMs)).toBeLessThan(20);
    expect(rec!.gaps).toEqual([]);
    const segs = await queryDb<{ segment_key: string; start_ms: number; end_ms: number; kind: string }>(
      t.databaseUrl,
      'SELECT segment_key, start_ms::int AS start_ms, end_ms::int AS end_ms, kind FROM transcript_segments WHERE transcription_id = $1',
      [tr.id],
    );
    expect(segs.every((s) => s.kind === 'final')).toBe(true);
    expect(segs.length).toBeGreaterThan(0);
    expect(coverageProblems(segs.map((s) => ({ segmentId: s.segment_key, startMs: s.start_ms, endMs: s.end_ms })), durationMs, { maxOverlapMs: 0 })).toEqual([]);
    await page.close();
  }, 90_000);
});
