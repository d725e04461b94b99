import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';
import { startModuleWorker } from '../lib/module-worker.js';
import { verifySigV4 } from './sigv4.js';

export interface EmbeddedS3 {
  endpoint: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  close(): Promise<void>;
}

type KoaContext = { req: { method?: string; url?: string; headers: Record<string, string | string[] | undefined> }; status: number; type: string; body: unknown };

/** s3rver's account registry: the access keys it recognises (it ships one, S3RVER/S3RVER). */
const require = createRequire(import.meta.url);
const accounts = require('s3rver/lib/models/account') as { DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void; revokeAccessKey(id: string): void } };

/** A key pair for one embedded store: random, known only to this process (and whoever it hands them to). */
export function generateS3Credentials(): { accessKeyId: string; secretAccessKey: string } {
  return { accessKeyId: `AROGYA${randomBytes(10).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64url') };
}

const ACCESS_DENIED = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';

/**
 * Runs an S3-API server (s3rver) in this process, storing objects under `dir`, for `npm start`
 * without S3_BUCKET and for tests. Silent: s3rver's request log is off, so nothing about objects
 * reaches our logs. Listens on 127.0.0.1 only.
 *
 * Every request must be signed (AWS SigV4) with this store's key pair, generated at each start
 * unless given: s3rver alone answers anonymous GET/PUT/DELETE, and checks no SigV4 signature (any
 * request naming its fixed key S3RVER passes), so any local process or user could read the
 * recordings (plain WAV) or delete them (issue 19). Anything else gets 403 AccessDenied.
 */
export interface EmbeddedS3Options {
  dir: string;
  port?: number | undefined;
  bucket?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export async function startEmbeddedS3(options: EmbeddedS3Options): Promise<EmbeddedS3> {
  const bucket = options.bucket ?? 'arogya-recordings';
  const credentials = options.credentials ?? generateS3Credentials();
  fs.mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const server = new S3rver({
    port: options.port ?? 0,
    address: '127.0.0.1',
    silent: true,
    directory: options.dir,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  // First in s3rver's (Koa's) middleware chain, before it reads anything.
  (server as unknown as { middleware: Array<(ctx: KoaContext, next: () => Promise<void>) => Promise<void>> }).middleware.unshift(async (ctx, next) => {
    if (verifySigV4(ctx.req, credentials)) return next();
    ctx.status = 403;
    ctx.type = 'application/xml';
    ctx.body = ACCESS_DENIED;
  });
  // s3rver looks the key up again after us (and then trusts any SigV4 request naming it).
  accounts.DUMMY_ACCOUNT.createKeyPair(credentials.accessKeyId, credentials.secretAccessKey);
  const address = (await server.run()) as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    credentials: { ...credentials },
    close: async () => {
      await (server.close() as Promise<void>);
      accounts.DUMMY_ACCOUNT.revokeAccessKey(credentials.accessKeyId);
    },
  };
}

/**
 * {@link startEmbeddedS3} in a worker thread: what `npm start` runs. The store stands in for S3, a
 * service of its own; in the service's thread its work (Koa, signature checks, file writes for 20
 * checkpoint PutObjects a second at 100 sessions) and its garbage collections ran on the event loop
 * that acknowledges audio (BENCHMARKS.md). The key pair is generated here and handed to the worker.
 */
export async function startEmbeddedS3Thread(options: EmbeddedS3Options): Promise<EmbeddedS3> {
  const credentials = options.credentials ?? generateS3Credentials();
  const worker = startModuleWorker(import.meta.url, './embedded-s3-worker', { workerData: { ...options, credentials } });
  let onError: (err: Error) => void = () => undefined;
  let onExit: (code: number) => void = () => undefined;
  const ready = await new Promise<{ endpoint: string; bucket: string }>((resolve, reject) => {
    onError = reject;
    onExit = (code) => reject(new Error(`embedded S3 store exited before it was ready (code ${code})`));
    worker.on('error', onError).on('exit', onExit);
    worker.once('message', (m: { type: string; endpoint: string; bucket: string; message?: string }) =>
      m.type === 'ready' ? resolve(m) : reject(new Error(`embedded S3 store could not start: ${m.message ?? m.type}`)),
    );
  });
  worker.off('error', onError).off('exit', onExit);
  // After start-up a failure of the store shows in the health check and in every storage call.
  worker.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    endpoint: ready.endpoint,
    bucket: ready.bucket,
    credentials: { ...credentials },
    close: async () => {
      worker.postMessage({ type: 'close' });
      const timer = setTimeout(() => void worker.terminate(), 5000).unref();
      await exited;
      clearTimeout(timer);
    },
  };
}
