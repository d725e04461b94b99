/**
 * The worker-thread side of {@link startEmbeddedS3Thread}: runs the embedded S3-API store and
 * answers `close`. Messages: `{ type: 'ready', endpoint, bucket, credentials }` once listening,
 * `{ type: 'failed', message }` if it cannot start, `{ type: 'closed' }` after `close`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startEmbeddedS3, type EmbeddedS3Options } from './embedded-s3.js';

const port = parentPort!;
try {
  const s3 = await startEmbeddedS3(workerData as EmbeddedS3Options);
  port.on('message', (m: { type: string }) => {
    if (m.type !== 'close') return;
    void s3.close().finally(() => {
      port.postMessage({ type: 'closed' });
      port.close();
    });
  });
  port.postMessage({ type: 'ready', endpoint: s3.endpoint, bucket: s3.bucket, credentials: s3.credentials });
} catch (err) {
  port.postMessage({ type: 'failed', message: (err as Error).message });
  port.close();
}
