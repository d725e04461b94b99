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

  it.each([
    ['12 spaces', ' '.repeat(12), /only spaces/],
    ['tabs and spaces', ' \t \t \t \t \t \t', /only spaces/],
    ['one letter repeated', 'aaaaaaaaaaaa', /4 different/],
    ['two letters alternating', 'abababababab', /4 different/],
    ['a run of digits', '123456789012', /consecutive/],
    ['a falling run of digits', '987654321098', /consecutive/],
    ['a run of letters', 'abcdefghijkl', /consecutive/],
    ['a common password (any case)', 'PassWord1234', /common passwords/],
    ['a common password', 'qazwsxedcrfv', /common passwords/],
    ['a common word with digits appended', 'sunshine20241', /common passwords/],
    ['a common word with digits and symbols appended', 'football#2024!', /common passwords/],
  ])('refuses %s (issue 19: accepted before, for an admin too)', (_what, password, message) => {
    expect(passwordProblem(password)).toMatch(message);
  });

  it('accepts ordinary long passwords', () => {
    // (a short common prefix before random digits and symbols is not refused: `ab` + 10 of them)
    for (const p of ['correct horse battery', 'pw-Zk3_9qLm2xY', '1357924680ab', 'ab48#!93@1)7', 'football-ward-ledger']) expect(passwordProblem(p), p).toBeUndefined();
  });
});
