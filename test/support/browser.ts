import { chromium, type Browser, type LaunchOptions, type Page } from 'playwright-core';

/** Debian's Chromium, headless, with no background traffic (this machine's network is closed). */
export function launchChromium(extraArgs: string[] = [], options: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    ...options,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
      ...extraArgs,
    ],
  });
}

/** Chromium flags that answer getUserMedia with `wav` played as the microphone, without a prompt. */
export function fakeMicrophone(wav: string, loop = false): string[] {
  return ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav}${loop ? '' : '%noloop'}`];
}

/** A page that records every CSP violation and uncaught error, so a test can fail on any. */
export async function watchedPage(browser: Browser, origin?: string): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext(origin ? { permissions: ['microphone'] } : {});
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  await page.exposeFunction('__reportCsp', (v: string) => problems.push(`securitypolicyviolation: ${v}`));
  await page.addInitScript(() => {
    const g = globalThis as unknown as {
      document: { addEventListener(type: string, f: (e: { violatedDirective: string; blockedURI: string }) => void): void };
      __reportCsp(v: string): void;
    };
    g.document.addEventListener('securitypolicyviolation', (e) => g.__reportCsp(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return { page, problems };
}

/** Logs in through the page's login form (the one form of public/lib/login-form.js) and waits for it to go. */
export async function logInOnPage(page: Page, user: { username: string; password: string }): Promise<void> {
  const form = page.locator('#login-form');
  await form.getByLabel('Username').fill(user.username);
  await form.getByLabel('Password').fill(user.password);
  await form.getByRole('button', { name: 'Log in' }).click();
  await form.waitFor({ state: 'hidden' });
}

/**
 * The least audio a recording page's session of `chunks` chunks holds when none is missing: every
 * chunk is 200 ms but the last, which holds at least one 20 ms Opus packet (or one 100 ms PCM frame),
 * and an Opus duration excludes the encoder's 6.5 ms pre-skip. With one chunk's audio missing the
 * session holds at most (chunks − 1) × 200 ms, so this bound tells the two apart for every encoding.
 */
export const leastPageSessionMs = (chunks: number): number => (chunks - 1) * 200 + 20 - 7;
