import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';

export interface EmbeddedS3 {
  endpoint: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  close(): Promise<void>;
}

/** s3rver accepts only its own fixed key pair. */
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/**
 * Runs an S3-API server (s3rver) in this process, storing objects under `dir`, for `npm start`
 * without S3_BUCKET and for tests. Silent: s3rver's request log is off, so nothing about objects
 * reaches our logs. Listens on 127.0.0.1 only.
 */
export async function startEmbeddedS3(options: { dir: string; port?: number; bucket?: string }): Promise<EmbeddedS3> {
  const bucket = options.bucket ?? 'arogya-recordings';
  fs.mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const server = new S3rver({
    port: options.port ?? 0,
    address: '127.0.0.1',
    silent: true,
    directory: options.dir,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const address = (await server.run()) as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    credentials: { ...CREDENTIALS },
    close: () => server.close() as Promise<void>,
  };
}
