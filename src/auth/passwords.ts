import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { dictionary } from '@zxcvbn-ts/language-common';
import { Semaphore } from '../lib/semaphore.js';

/**
 * At most 2 hashes run at once in this process. scrypt runs on libuv's thread pool (4 threads by
 * default), which file writes (the recording spool), DNS lookups and zlib share: an unbounded login
 * flood took all 4 threads and 16 × 64 MiB, and `/health` timed out for ~18 s (issue 19). Two
 * leave half the pool free and cost ~8 logins/s on the 2-core reference machine; queued logins wait
 * their turn, past {@link MAX_HASH_QUEUE} they are refused (see {@link hashingSaturated}).
 */
const HASH_CONCURRENCY = 2;
/** ~16 × 0.23 s / 2 ≈ 2 s of queued work: more than that is a flood, not clinicians logging in. */
export const MAX_HASH_QUEUE = 16;
const hashing = new Semaphore(HASH_CONCURRENCY);

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions) =>
  hashing.run(
    () =>
      new Promise<Buffer>((resolve, reject) =>
        scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
      ),
  );

/** True when so many password checks are queued that a new login should be refused (429) rather than queued. */
export function hashingSaturated(): boolean {
  return hashing.waiting >= MAX_HASH_QUEUE;
}

/** Password hashes running and queued in this process (tests and metrics). */
export function hashingLoad(): { running: number; waiting: number } {
  return { running: hashing.running, waiting: hashing.waiting };
}

// 64 MiB and ~0.23 s per hash on the 2-core reference machine: costly to brute-force, cheap enough
// that 100 clinicians logging in at once queue for seconds, not minutes. Parameters live in each hash,
// so raising them later only affects new hashes.
const PARAMS = { N: 2 ** 16, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const MAX_MEM = 256 * 1024 * 1024;

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 256;

/** Hashes a password with scrypt and a random salt: `scrypt$N$r$p$salt$hash` (base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, { ...PARAMS, maxmem: MAX_MEM });
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Constant-time check of a password against a stored hash; false for malformed hashes. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltText, keyText] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(keyText, 'base64url');
  const key = await scrypt(password.normalize('NFKC'), Buffer.from(saltText, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: MAX_MEM,
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

let dummyHash: Promise<string> | undefined;
/**
 * A hash to verify against when the user does not exist, so a wrong username costs the same time
 * as a wrong password and timing does not reveal which usernames exist.
 */
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  return dummyHash;
}

/** Returns a problem sentence, or undefined when the password is acceptable. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `Passwords need at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (password.length > MAX_PASSWORD_LENGTH) return `Passwords have at most ${MAX_PASSWORD_LENGTH} characters.`;
  // The attack of issue 19 set `            `, `aaaaaaaaaaaa` and `123456789012`, for an admin too:
  // long enough, guessed first by any online attacker.
  if (password.trim() === '') return 'Passwords cannot be only spaces.';
  if (new Set(password.toLowerCase()).size < 4) return 'Passwords need at least 4 different characters.';
  if (isSequence(password.toLowerCase())) return 'Passwords cannot be a run of consecutive characters.';
  if (isCommon(password)) return 'That password is on a list of common passwords; choose another.';
  return undefined;
}

let common: Set<string> | undefined;
/**
 * On the list of common passwords zxcvbn-ts maintains (`@zxcvbn-ts/language-common`, 49,233 from
 * breach corpora; 308 of them 12 characters or longer, e.g. `password1234`, `1q2w3e4r5t6y`,
 * `administrator`), ignoring case; or one of them (4 characters or more) with only digits and
 * symbols appended (`iloveyou2024!`, `letmein12345`): the first things an online attacker tries.
 * The set (~3 MB) is built at the first password check, not at start-up.
 */
function isCommon(password: string): boolean {
  common ??= new Set(dictionary['passwords-common']);
  const p = password.toLowerCase();
  if (common.has(p)) return true;
  const base = p.replace(/[^\p{L}]+$/u, '');
  return base.length >= 4 && base !== p && common.has(base);
}

/** `123456789012`, `abcdefghijkl`, `987654321098`: every step +1 (or every step −1), digits wrapping 9↔0. */
function isSequence(p: string): boolean {
  const step = (a: string, b: string): number => {
    const isDigit = (c: string) => c >= '0' && c <= '9';
    if (isDigit(a) && isDigit(b)) return ((b.charCodeAt(0) - a.charCodeAt(0) + 15) % 10) - 5;
    return b.charCodeAt(0) - a.charCodeAt(0);
  };
  const first = step(p[0]!, p[1]!);
  if (first !== 1 && first !== -1) return false;
  for (let i = 2; i < p.length; i++) if (step(p[i - 1]!, p[i]!) !== first) return false;
  return true;
}
