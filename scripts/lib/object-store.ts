/**
 * The bench's object store: the embedded S3-API server (src/storage/embedded-s3.ts) in a process of
 * its own, as S3 is a service apart from the task in production. Started by scripts/bench.ts, which
 * points the service at it with S3_BUCKET and AWS_ENDPOINT_URL_S3 and counts its CPU as the
 * harness's (`harnessCpuCores.objectStore`), like the Transcribe stand-in's.
 *
 *   node --import tsx scripts/lib/object-store.ts   (STORE_DIR, STORE_KEY_ID, STORE_SECRET in the environment)
 *
 * Prints one JSON line `{ endpoint, bucket }` once listening; stops on SIGTERM or when stdin closes.
 */
import { startEmbeddedS3 } from '../../src/storage/embedded-s3.js';

const dir = process.env.STORE_DIR;
const accessKeyId = process.env.STORE_KEY_ID;
const secretAccessKey = process.env.STORE_SECRET;
if (!dir || !accessKeyId || !secretAccessKey) throw new Error('STORE_DIR, STORE_KEY_ID and STORE_SECRET are required');
const store = await startEmbeddedS3({ dir, credentials: { accessKeyId, secretAccessKey } });
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void store.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop).resume();
process.stdout.write(`${JSON.stringify({ endpoint: store.endpoint, bucket: store.bucket })}\n`);
