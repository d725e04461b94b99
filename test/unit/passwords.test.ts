import { describe, expect, it } from 'vitest';
import { dummyPasswordHash, hashPassword, passwordProblem, verifyPassword } from '../../src/auth/passwords.js';

describe('passwords', () => {
  it('hashes with scrypt and a random salt, and verifies', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).toMatch(/^scrypt\$65536\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('correct horse');
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterz', a)).toBe(false);
  });

  it('rejects malformed stored hashes instead of throwing', async () => {
    expect(await verifyPassword('x', 'plain-text')).toBe(false);
    expect(await verifyPassword('x', 'bcrypt$1$2$3$4$5')).toBe(false);
  });

  it('never verifies anything against the dummy hash', async () => {
    expect(await verifyPassword('', await dummyPasswordHash())).toBe(false);
  });

  it('requires 12 to 256 characters', () => {
    expect(passwordProblem('short')).toMatch(/12/);
    expect(passwordProblem('x'.repeat(257))).toMatch(/256/);
    expect(passwordProblem('twelve-chars')).toBeUndefined();
  });
});
