import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVICE_V8_FLAGS } from '../../src/lib/node-flags.js';

/**
 * No Docker engine runs here, so the Dockerfile is checked by reading it: stages, what each stage
 * runs, the runtime user, health check, stop signal, no secrets, and that everything it copies is in
 * the build context (exists, not excluded by .dockerignore) or was produced by an earlier stage.
 */
const root = path.resolve(import.meta.dirname, '../..');

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}
interface Stage {
  name: string;
  base: string;
  instructions: Instruction[];
}

/** Dockerfile → instructions: joins `\` continuations, drops comments and blank lines. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buffer = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (buffer === '' && (line === '' || line.startsWith('#'))) return;
    if (buffer === '') start = i + 1;
    if (line.endsWith('\\')) {
      buffer += `${line.slice(0, -1).trim()} `;
      return;
    }
    buffer += line;
    const match = /^(\w+)\s+([\s\S]*)$/.exec(buffer);
    if (!match) throw new Error(`line ${start}: cannot parse "${buffer}"`);
    out.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: start });
    buffer = '';
  });
  if (buffer !== '') throw new Error('Dockerfile ends inside a line continuation');
  return out;
}

function stagesOf(instructions: Instruction[]): { globalArgs: Map<string, string>; stages: Stage[] } {
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`line ${ins.line}: bad FROM`);
      const base = m[1]!.replace(/\$\{(\w+)\}/g, (_, name: string) => globalArgs.get(name) ?? '');
      stages.push({ name: m[2] ?? String(stages.length), base, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new Error(`line ${ins.line}: only ARG may precede FROM`);
      const [name, value = ''] = ins.args.split('=');
      globalArgs.set(name!, value.replace(/^"|"$/g, ''));
    } else {
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

/** COPY/ADD arguments without flags: sources and destination. */
function copyParts(args: string): { flags: Record<string, string>; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const flags: Record<string, string> = {};
  while (words[0]?.startsWith('--')) {
    const [k, v = ''] = words.shift()!.slice(2).split('=');
    flags[k!] = v;
  }
  const dest = words.pop()!;
  return { flags, sources: words, dest };
}

/** A .dockerignore matcher for the patterns this repo uses: names, `*` globs, no negations. */
function ignoredBy(patterns: string[], relPath: string): boolean {
  const first = relPath.split('/')[0]!;
  return patterns.some((pattern) => {
    if (pattern.startsWith('!')) throw new Error('negated .dockerignore patterns are not supported by this check');
    const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
    return re.test(relPath) || re.test(first);
  });
}

const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
const instructions = parseDockerfile(dockerfile);
const { globalArgs, stages } = stagesOf(instructions);
const ignore = fs
  .readFileSync(path.join(root, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const runtime = stages.at(-1)!;
const build = stages.find((s) => s.name === 'build');
const runs = (stage: Stage) => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
const last = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword).at(-1);

describe('Dockerfile', () => {
  it('parses into a build stage and a Debian slim runtime stage on Node 24 LTS', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    expect(globalArgs.get('NODE_IMAGE')).toBe('node:24-bookworm-slim');
    for (const stage of stages) expect(stage.base).toBe('node:24-bookworm-slim');
  });

  it('names one Node major everywhere: the image, package.json engines (root and infra) and the Node CI installs', () => {
    const major = /^node:(\d+)-/.exec(globalArgs.get('NODE_IMAGE')!)![1];
    for (const file of ['package.json', 'infra/package.json']) {
      expect(JSON.parse(fs.readFileSync(path.join(root, file), 'utf8')).engines.node, file).toBe(`>=${major}`);
    }
    expect(fs.readFileSync(path.join(root, '.ci/run'), 'utf8')).toMatch(new RegExp(`^NODE_VERSION=${major}\\.\\d+\\.\\d+$`, 'm'));
    // CI (CI=true, set by .ci/run's caller) must really run the suite on it, not on the machine's Node.
    if (process.env['CI'] === 'true') expect(process.versions.node.split('.')[0]).toBe(major);
  });

  it('listens on every interface in the container (the load balancer reaches the task from outside)', () => {
    const env = runtime.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(/\bHOST=0\.0\.0\.0\b/);
  });

  it('installs with npm ci, builds, then prunes dev dependencies in the build stage', () => {
    const commands = runs(build!);
    const ci = commands.findIndex((c) => /\bnpm ci\b/.test(c));
    const compile = commands.findIndex((c) => /\bnpm run build\b/.test(c));
    const prune = commands.findIndex((c) => /\bnpm prune --omit=dev\b/.test(c));
    expect(ci).toBeGreaterThanOrEqual(0);
    expect(compile).toBeGreaterThan(ci);
    expect(prune).toBeGreaterThan(compile);
    // The runtime stage takes node_modules from the pruned build, and never installs dev tools.
    expect(runs(runtime).join('\n')).not.toMatch(/\bnpm (ci|install)\b/);
  });

  it('keeps the offline engine packages on one marked ARG line and installs them in the runtime', () => {
    const lines = dockerfile.split('\n').filter((l) => l.includes('pocketsphinx'));
    expect(lines).toEqual(['ARG OFFLINE_ENGINE_PACKAGES="libpocketsphinx3 pocketsphinx-en-us"']);
    expect(runs(runtime).join('\n')).toMatch(/apt-get install -y --no-install-recommends .*\$\{OFFLINE_ENGINE_PACKAGES\}/);
    expect(runs(runtime).join('\n')).toContain('rm -rf /var/lib/apt/lists/*');
  });

  it('runs as a non-root user (the uid the ECS task definition names)', () => {
    const user = last(runtime, 'USER')!.args;
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(user).toBe('10001:10001');
    expect(runs(runtime).join('\n')).toMatch(/useradd --uid 10001/);
    const taskDefinition = fs.readFileSync(path.join(root, 'infra/src/fargate-service.ts'), 'utf8');
    expect(taskDefinition).toContain(`user: '${user}'`);
  });

  it('checks GET /health, stops on SIGTERM and starts dist/main.js under an init', () => {
    const health = last(runtime, 'HEALTHCHECK')!.args;
    expect(health).toMatch(/^--interval=\d+s .*CMD /);
    expect(health).toContain("/health'");
    expect(last(runtime, 'STOPSIGNAL')!.args).toBe('SIGTERM');
    expect(JSON.parse(last(runtime, 'CMD')!.args)).toEqual(['node', ...SERVICE_V8_FLAGS, 'dist/main.js']);
    expect(JSON.parse(last(runtime, 'ENTRYPOINT')!.args)).toEqual(['/usr/bin/tini', '--']);
    expect(last(runtime, 'EXPOSE')!.args).toBe('3000');
  });

  it('runs the service with the same V8 options in the image, npm start and npm run start:built (the cold-start tier-up of src/lib/node-flags.ts)', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    for (const script of ['start', 'start:built']) {
      const words = pkg.scripts[script]!.split(/\s+/);
      for (const flag of SERVICE_V8_FLAGS) expect(words, script).toContain(flag);
    }
    expect(SERVICE_V8_FLAGS.length).toBeGreaterThan(0);
  });

  it('bakes in no secret: no credential-like ENV or ARG, no secret files copied', () => {
    for (const ins of instructions.filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG')) {
      const names = ins.args.split(/\s+/).map((pair) => pair.split('=')[0]!);
      for (const name of names) expect(name).not.toMatch(/SECRET|PASSWORD|TOKEN|ACCESS_KEY|PRIVATE|CREDENTIAL|DATABASE_URL/i);
    }
    expect(dockerfile).not.toMatch(/AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY/);
    for (const pattern of ['.env', '.git', 'node_modules', '*.pem']) expect(ignore).toContain(pattern);
  });

  it('copies from the context only files that exist there and are not excluded by .dockerignore', () => {
    const contextSources = instructions
      .filter((i) => (i.keyword === 'COPY' || i.keyword === 'ADD') && !copyParts(i.args).flags['from'])
      .flatMap((i) => copyParts(i.args).sources)
      .filter((source) => !/^https:\/\//.test(source));
    expect(contextSources.sort()).toEqual(['bin', 'migrations', 'package-lock.json', 'package.json', 'package.json', 'public', 'src', 'tsconfig.json']);
    const problems = contextSources.flatMap((source) => {
      const found: string[] = [];
      if (!fs.existsSync(path.join(root, source))) found.push(`${source}: not in the repository`);
      if (ignoredBy(ignore, source)) found.push(`${source}: excluded by .dockerignore`);
      return found;
    });
    expect(problems).toEqual([]);
  });

  it('copies from earlier stages only what they produced', () => {
    const produced: Record<string, RegExp> = { node_modules: /\bnpm ci\b/, dist: /\bnpm run build\b/ };
    for (const ins of runtime.instructions.filter((i) => i.keyword === 'COPY' && copyParts(i.args).flags['from'])) {
      const { flags, sources } = copyParts(ins.args);
      const from = stages.find((s) => s.name === flags['from']);
      expect(from, `stage ${flags['from']}`).toBeDefined();
      expect(stages.indexOf(from!)).toBeLessThan(stages.indexOf(runtime));
      for (const source of sources) {
        const name = path.posix.relative('/app', source);
        expect(Object.keys(produced)).toContain(name);
        expect(runs(from!).some((c) => produced[name]!.test(c))).toBe(true);
      }
    }
  });

  it('fetches remote files only over HTTPS', () => {
    for (const ins of instructions.filter((i) => i.keyword === 'ADD')) {
      for (const source of copyParts(ins.args).sources) expect(source).toMatch(/^https:\/\//);
    }
  });
});

describe('the .dockerignore matcher used above', () => {
  it('matches names, globs and first path segments, and nothing else', () => {
    expect(ignoredBy(['node_modules', '*.md', '.env.*'], 'node_modules/x')).toBe(true);
    expect(ignoredBy(['node_modules', '*.md', '.env.*'], 'README.md')).toBe(true);
    expect(ignoredBy(['node_modules', '*.md', '.env.*'], '.env.local')).toBe(true);
    expect(ignoredBy(['node_modules', '*.md', '.env.*'], 'src')).toBe(false);
    expect(ignoredBy(['test'], 'tsconfig.json')).toBe(false);
  });
});
