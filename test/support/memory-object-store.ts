import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { NoSuchUploadError, type ObjectStore } from '../../src/storage/object-store.js';

/**
 * The object-store port in memory, for unit tests of the code above the port. Held to the same
 * contract as the S3 adapter (test/integration/object-store-contract.test.ts). `down` makes every
 * call fail as an unreachable store does (no response: retryable).
 */
export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, { body: Buffer; contentType: string; lastModified: Date }>();
  private readonly uploads = new Map<string, { key: string; contentType: string; parts: Map<number, Buffer> }>();
  down = false;

  constructor(readonly prefix = 'recordings/') {}

  uri(key: string): string {
    return `memory://${key}`;
  }

  async createMultipart(key: string, contentType: string): Promise<string> {
    this.reachable();
    const id = randomUUID();
    this.uploads.set(id, { key, contentType, parts: new Map() });
    return id;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer): Promise<string> {
    this.reachable();
    const upload = this.upload(key, uploadId);
    upload.parts.set(partNumber, Buffer.from(body));
    return `"${createHash('md5').update(body).digest('hex')}"`;
  }

  async completeMultipart(key: string, uploadId: string, parts: ReadonlyArray<{ partNumber: number; etag: string }>): Promise<void> {
    this.reachable();
    const upload = this.upload(key, uploadId);
    const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
    const body = Buffer.concat(
      sorted.map((p) => {
        const b = upload.parts.get(p.partNumber);
        if (!b || `"${createHash('md5').update(b).digest('hex')}"` !== p.etag) throw Object.assign(new Error('InvalidPart'), { retryable: false });
        return b;
      }),
    );
    this.uploads.delete(uploadId);
    this.objects.set(key, { body, contentType: upload.contentType, lastModified: new Date() });
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    this.reachable();
    this.upload(key, uploadId);
    this.uploads.delete(uploadId);
  }

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    this.reachable();
    this.objects.set(key, { body: Buffer.from(body), contentType, lastModified: new Date() });
  }

  async head(key: string): Promise<{ bytes: number } | undefined> {
    this.reachable();
    const o = this.objects.get(key);
    return o && { bytes: o.body.length };
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Readable> {
    this.reachable();
    const o = this.objects.get(key);
    if (!o) throw Object.assign(new Error('NoSuchKey'), { name: 'NoSuchKey', retryable: false });
    return Readable.from([range ? o.body.subarray(range.start, range.end + 1) : o.body]);
  }

  async delete(key: string): Promise<void> {
    this.reachable();
    this.objects.delete(key);
  }

  async list(prefix: string, next?: string): Promise<{ objects: Array<{ key: string; lastModified: Date }>; next?: string }> {
    this.reachable();
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix) && (next === undefined || k > next)).sort();
    const page = keys.slice(0, 1000);
    return {
      objects: page.map((key) => ({ key, lastModified: this.objects.get(key)!.lastModified })),
      ...(keys.length > page.length ? { next: page.at(-1)! } : {}),
    };
  }

  async check(): Promise<void> {
    this.reachable();
  }

  close(): void {}

  private reachable(): void {
    if (this.down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  }

  private upload(key: string, uploadId: string) {
    const u = this.uploads.get(uploadId);
    if (!u || u.key !== key) throw new NoSuchUploadError(`no upload ${uploadId}`);
    return u;
  }
}
