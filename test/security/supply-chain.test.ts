import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Supply chain (SECURITY.md): the lockfile is committed and matches package.json, every package
 * comes from the npm registry with an integrity hash, and every dependency with an install script
 * is named in `allowScripts` (allowed or denied) and, when allowed, explained in SECURITY.md.
 * `npm audit` needs the registry's audit endpoint and runs in .ci/run (scripts/npm-audit.sh).
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  allowScripts?: Record<string, boolean>;
};
const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  lockfileVersion: number;
  packages: Record<string, { version?: string; resolved?: string; integrity?: string; hasInstallScript?: boolean; link?: boolean; os?: string[]; cpu?: string[]; dependencies?: Record<string, string>; devDependencies?: Record<string, string> }>;
};
const nameOf = (key: string) => key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);

describe('supply chain', () => {
  it('commits package-lock.json (v3) and it matches package.json', () => {
    expect(execFileSync('git', ['ls-files', 'package-lock.json'], { cwd: ROOT, encoding: 'utf8' }).trim()).toBe('package-lock.json');
    expect(lock.lockfileVersion).toBeGreaterThanOrEqual(3);
    expect(lock.packages['']?.dependencies).toEqual(pkg.dependencies);
    expect(lock.packages['']?.devDependencies).toEqual(pkg.devDependencies);
  });

  it('pins every package by sha512 integrity, from the registry (no git, file or tarball URLs)', () => {
    const offenders = Object.entries(lock.packages)
      .filter(([key, p]) => key !== '' && !p.link)
      // npm 11 omits `resolved` for the default registry; anything else would be written out.
      .filter(([, p]) => (p.resolved !== undefined && !p.resolved.startsWith('https://registry.npmjs.org/')) || !/^sha512-/.test(p.integrity ?? ''))
      .map(([key]) => key);
    expect(offenders).toEqual([]);
  });

  it('names every dependency with an install script in allowScripts, and explains each allowed one in SECURITY.md', () => {
    // Packages for other platforms (optional, os/cpu-restricted) never install on the linux-x64
    // image and CI; those that do must be named.
    const installsHere = (p: { os?: string[]; cpu?: string[] }) => (!p.os || p.os.includes('linux')) && (!p.cpu || p.cpu.includes('x64'));
    const withScripts = [...new Set(Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript && installsHere(p)).map(([key]) => nameOf(key)))].sort();
    const allow = pkg.allowScripts ?? {};
    expect(Object.keys(allow).sort()).toEqual(withScripts);
    const security = fs.readFileSync(path.join(ROOT, 'SECURITY.md'), 'utf8');
    for (const [name, allowed] of Object.entries(allow)) {
      expect(security, `SECURITY.md explains ${name}`).toMatch(new RegExp(`\\| \`${name.replace(/[/.@-]/g, '\\$&')}\` \\| ${allowed ? 'allowed' : 'denied'} \\|`));
    }
  });
});
