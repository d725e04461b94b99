import fs from 'node:fs';
import path from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium } from '../support/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_DIR } from '../../src/app.js';
import { FakeEngine } from '../support/fake-engine.js';
import { seedTranscription } from '../support/seed.js';
import { startTestService, type TestService } from '../support/service.js';

/**
 * Security headers (SECURITY.md): a CSP without 'unsafe-inline' that the real pages satisfy in
 * Chromium (recording included), HSTS behind TLS, no X-Powered-By, and session cookie flags.
 */
let t: TestService;
let browser: Browser;

beforeAll(async () => {
  t = await startTestService({}, { engine: new FakeEngine({ script: 'blood pressure is fine today', wordsPerSecond: 4 }) });
  browser = await launchChromium(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream']);
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

/** A page that records every CSP violation (event and console) and every uncaught error. */
async function watchedPage(): Promise<{ page: Page; violations: string[]; close: () => Promise<void> }> {
  const context = await browser.newContext();
  await context.grantPermissions(['microphone'], { origin: t.url });
  const page = await context.newPage();
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content[ -]Security[ -]Policy|Refused to (load|execute|apply|connect|create|frame)/i.test(m.text())) violations.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => violations.push(`pageerror: ${e.message}`));
  await page.addInitScript(() => {
    // Runs in the page; typed structurally because the test project has no DOM lib.
    const g = globalThis as unknown as {
      document: { addEventListener(type: string, f: (e: { violatedDirective: string; blockedURI: string; sourceFile: string }) => void): void };
      __csp: string[];
    };
    g.__csp = [];
    g.document.addEventListener('securitypolicyviolation', (e) => g.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}`));
  });
  const collect = async () => {
    if (page.isClosed()) return;
    const inPage = await page.evaluate(() => (globalThis as unknown as { __csp: string[] }).__csp).catch(() => [] as string[]);
    violations.push(...inPage.map((v) => `securitypolicyviolation: ${v}`));
  };
  return {
    page,
    violations,
    close: async () => {
      await collect();
      await context.close();
    },
  };
}

async function logIn(page: Page, user: { username: string; password: string }) {
  const form = page.locator('#login-form');
  await form.getByLabel('Username').fill(user.username);
  await form.getByLabel('Password').fill(user.password);
  await form.getByRole('button', { name: 'Log in' }).click();
}

describe('CSP in a real browser', () => {
  it('the recorder page logs in, records, shows words and saves, and the review page shows the result, with no CSP violation', async () => {
    const clinician = await t.createUser('clinician');
    const w = await watchedPage();
    try {
      await w.page.goto(`${t.url}/`);
      await logIn(w.page, clinician);
      await w.page.locator('#title').fill('CSP check');
      await w.page.locator('#record').click();
      await expect.poll(() => w.page.locator('#transcript').textContent(), { timeout: 20_000 }).toMatch(/blood|pressure/);
      await w.page.locator('#record').click();
      await expect.poll(() => w.page.locator('#saved').isVisible(), { timeout: 20_000 }).toBe(true);

      await w.page.goto(`${t.url}/review.html`);
      await expect.poll(() => w.page.locator('#list-body a.open').allTextContents(), { timeout: 10_000 }).toContain('CSP check');
      await w.page.getByRole('link', { name: 'CSP check' }).click();
      await expect.poll(() => w.page.locator('#t-title').textContent()).toBe('CSP check');
      await w.page.getByRole('button', { name: 'Log out' }).click();
      await expect.poll(() => w.page.locator('#login-form').isVisible()).toBe(true);
    } finally {
      await w.close();
    }
    expect(w.violations).toEqual([]);
  }, 90_000);

  it('the review page as admin: users, audit log, a search and a transcript, with no CSP violation', async () => {
    const admin = await t.createUser('admin');
    const clinician = await t.createUser('clinician');
    await seedTranscription(t.databaseUrl, { clinicianId: clinician.id, title: 'Seeded visit', segments: [{ startMs: 0, endMs: 2000, text: 'knee swelling reviewed' }] });
    const w = await watchedPage();
    try {
      await w.page.goto(`${t.url}/review.html`);
      await logIn(w.page, admin);
      await w.page.getByLabel('Search the transcript text').fill('knee');
      await w.page.getByRole('button', { name: 'Search' }).click();
      await expect.poll(() => w.page.locator('#list-body a.open').allTextContents()).toEqual(['Seeded visit']);
      await w.page.getByRole('link', { name: 'Seeded visit' }).click();
      await expect.poll(() => w.page.locator('#t-title').textContent()).toBe('Seeded visit');
      await w.page.getByRole('link', { name: 'Users' }).click();
      await expect.poll(() => w.page.locator('#users-body td:first-child').allTextContents()).toContain(clinician.username);
      await w.page.getByRole('link', { name: 'Audit log' }).click();
      await expect.poll(() => w.page.locator('#audit-body td:nth-child(3)').allTextContents()).toContain('transcription.search');
    } finally {
      await w.close();
    }
    expect(w.violations).toEqual([]);
  }, 60_000);

  it('catches a violation when there is one (the listener is live)', async () => {
    const w = await watchedPage();
    try {
      await w.page.goto(`${t.url}/review.html`);
      // An inline script is exactly what the policy forbids.
      await w.page.evaluate(() => {
        const d = (globalThis as unknown as { document: { createElement(t: string): { textContent: string }; body: { append(n: unknown): void } } }).document;
        const s = d.createElement('script');
        s.textContent = 'globalThis.__ran = true';
        d.body.append(s);
      });
      await expect.poll(() => w.page.evaluate(() => (globalThis as unknown as { __csp: string[] }).__csp.length)).toBeGreaterThan(0);
      expect(await w.page.evaluate(() => (globalThis as unknown as { __ran?: boolean }).__ran)).toBeUndefined();
    } finally {
      await w.close();
    }
    expect(w.violations.join('\n')).toMatch(/script-src/);
  });
});

describe('headers and cookies', () => {
  it('serves every page and script with a CSP free of unsafe-* and with no X-Powered-By', async () => {
    const files = fs.readdirSync(PUBLIC_DIR).filter((f) => /\.(html|js|css)$/.test(f));
    expect(files).toEqual(expect.arrayContaining(['index.html', 'review.html']));
    for (const p of ['/', ...files.map((f) => `/${f}`), '/api/auth/me', '/api/nope', '/nope', '/vendor/socket.io.min.js', '/health']) {
      const res = await fetch(`${t.url}${p}`);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, p).toContain("default-src 'self'");
      expect(csp, p).toContain("script-src 'self'");
      expect(csp, p).toContain("object-src 'none'");
      expect(csp, p).toContain("frame-ancestors 'none'");
      expect(csp, p).toContain("base-uri 'self'");
      expect(csp, p).not.toMatch(/unsafe-inline|unsafe-eval|unsafe-hashes|\*/);
      expect(res.headers.get('x-powered-by'), p).toBeNull();
      expect(res.headers.get('x-content-type-options'), p).toBe('nosniff');
      expect(res.headers.get('referrer-policy'), p).toBe('no-referrer');
    }
    const polling = await fetch(`${t.url}/socket.io/?EIO=4&transport=polling`);
    expect(polling.headers.get('x-powered-by')).toBeNull();
  });

  it('has no inline script, style or event handler in any page (what the CSP would block)', () => {
    for (const f of fs.readdirSync(PUBLIC_DIR).filter((x) => x.endsWith('.html'))) {
      const html = fs.readFileSync(path.join(PUBLIC_DIR, f), 'utf8');
      expect(html, f).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
      expect(html, f).not.toMatch(/<style[\s>]/i);
      expect(html, f).not.toMatch(/\sstyle\s*=/i);
      expect(html, f).not.toMatch(/\son[a-z]+\s*=/i);
      expect(html, f).not.toMatch(/javascript:/i);
    }
  });

  it('sends HSTS for a TLS request reported by the trusted proxy', async () => {
    const res = await fetch(`${t.url}/`, { headers: { 'x-forwarded-proto': 'https' } });
    const hsts = res.headers.get('strict-transport-security') ?? '';
    expect(Number(/max-age=(\d+)/.exec(hsts)?.[1])).toBeGreaterThanOrEqual(31_536_000);
    expect(hsts).toContain('includeSubDomains');
  });

  it('sets the session cookie HttpOnly, SameSite=Lax, Path=/ and Secure behind TLS, and only at login', async () => {
    const user = await t.createUser('clinician');
    const anonymous = await fetch(`${t.url}/api/auth/me`);
    expect(anonymous.headers.getSetCookie()).toEqual([]);
    const page = await fetch(`${t.url}/review.html`);
    expect(page.headers.getSetCookie()).toEqual([]);

    const tls = await t.client({ 'x-forwarded-proto': 'https' }).post('/api/auth/login', { username: user.username, password: user.password });
    const cookie = tls.headers.getSetCookie().find((c) => c.startsWith('arogya.sid='))!;
    expect(cookie).toMatch(/;\s*HttpOnly/i);
    expect(cookie).toMatch(/;\s*Secure/i);
    expect(cookie).toMatch(/;\s*SameSite=Lax/i);
    expect(cookie).toMatch(/;\s*Path=\//);
    expect(cookie).not.toMatch(/;\s*Domain=/i);
    // The value is signed: s:<id>.<HMAC>.
    expect(decodeURIComponent(cookie.split(';')[0]!.split('=')[1]!)).toMatch(/^s:[\w-]{20,}\.[\w+/-]{20,}$/);
  });

  it('always sets Secure with COOKIE_SECURE=true (production), even on a plain request', async () => {
    const s = await startTestService({ COOKIE_SECURE: 'true', TRUST_PROXY: 'loopback' });
    try {
      const user = await s.createUser('clinician');
      // express-session refuses to send a Secure cookie over plain HTTP: none is set at all.
      const plain = await s.client().post('/api/auth/login', { username: user.username, password: user.password });
      expect(plain.headers.getSetCookie().filter((c) => !/;\s*Secure/i.test(c))).toEqual([]);
      const tls = await s.client({ 'x-forwarded-proto': 'https' }).post('/api/auth/login', { username: user.username, password: user.password });
      expect(tls.headers.getSetCookie().find((c) => c.startsWith('arogya.sid='))).toMatch(/;\s*Secure/i);
    } finally {
      await s.close();
    }
  });
});
