import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/lib/free-port.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ServiceProcess {
  proc: ChildProcess;
  url: string;
  port: number;
  /** Every stdout/stderr line so far. */
  lines: string[];
  /** Resolves with the exit code after SIGTERM (or `signal`). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/**
 * Runs the service as a real process (`node --import tsx src/main.ts`, what `npm start` runs) with
 * the given environment, and waits until it logs `service_ready`.
 */
export async function spawnService(env: Record<string, string>, timeoutMs = 90_000): Promise<ServiceProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    // No start-up warm-up unless a test asks for it: seconds per start on a shared 2-core machine.
    env: { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'info', HOST: '127.0.0.1', WARM_UP_CHUNKS: '0', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const { lines, ready } = watchServiceOutput(proc, exited, { timeoutMs });
  try {
    await ready;
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return {
    proc,
    url: `http://127.0.0.1:${port}`,
    port,
    lines,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Runs the package's CLI (`bin/arogya-live.js`) and collects its output. */
export function runCli(args: string[], env: Record<string, string>, stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'arogya-live.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.on('error', reject);
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
    proc.stdin.end(stdin);
  });
}

/**
 * Collects a service process's stdout/stderr lines (whole lines, however the chunks fall; only those
 * `keep` accepts, default all; every raw chunk also to `tee`) and resolves `ready` at its
 * `service_ready` log line. `ready` rejects, with the last lines, on timeout or exit before that.
 */
export function watchServiceOutput(
  proc: ChildProcess,
  exited: Promise<number | null>,
  o: { timeoutMs: number; keep?: (line: string) => boolean; tee?: NodeJS.WritableStream },
): { lines: string[]; ready: Promise<void> } {
  const lines: string[] = [];
  const tail = () => lines.slice(-20).join('\n');
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service not ready in ${o.timeoutMs} ms:\n${tail()}`)), o.timeoutMs);
    let buf = '';
    const onData = (d: Buffer) => {
      o.tee?.write(d);
      buf += d.toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const isReady = line.includes('"service_ready"');
        if (line && (isReady || !o.keep || o.keep(line))) lines.push(line);
        if (isReady) {
          clearTimeout(timer);
          resolve();
        }
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code} before ready:\n${tail()}`));
    });
  });
  ready.catch(() => {}); // the caller awaits it; an exit after ready must not go unhandled
  return { lines, ready };
}

/**
 * The environment of one service task sharing a PostgreSQL, an S3-API store and a Transcribe
 * stand-in with its peers (the multi-task e2e tests), with its own DATA_DIR.
 */
export function sharedTaskEnv(
  shared: {
    dataDir: string;
    databaseUrl: string;
    s3: { bucket: string; endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } };
    transcribeUrl: string;
  },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DATA_DIR: shared.dataDir,
    DATABASE_URL: shared.databaseUrl,
    S3_BUCKET: shared.s3.bucket,
    AWS_ENDPOINT_URL_S3: shared.s3.endpoint,
    AWS_ACCESS_KEY_ID: shared.s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: shared.s3.credentials.secretAccessKey,
    AWS_REGION: 'us-east-1',
    TRANSCRIBE_ENGINE: 'aws',
    TRANSCRIBE_FALLBACK: 'none',
    AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING: shared.transcribeUrl,
    SESSION_SECRET: 'a-shared-test-session-secret-of-enough-length',
    ...extra,
  };
}
