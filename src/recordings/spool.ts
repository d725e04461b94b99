import { writevSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { PermanentError } from './retry.js';

/**
 * The local spool: one folder per recording (mode 0700), one file per multipart part (mode 0600).
 * Each file is a sequence of framed records, one per appended chunk:
 *   "ARS1" | payload length (u32 LE) | CRC-32 of the payload (u32 LE) | payload
 * so recovery can tell a torn tail (the chunk being written when the process died, never
 * acknowledged) from damage to data that was acknowledged.
 */
const MAGIC = Buffer.from('ARS1', 'latin1');
const RECORD_HEADER = 12;
/** No chunk is this large (a chunk is at most 1 MiB); a bigger length field is damage, not a torn tail. */
const MAX_RECORD = 4 * 1024 * 1024;

/** IEEE CRC-32 of a spool record (zlib's native implementation: ~100× the JS table loop). */
export function crc32(buf: Uint8Array): number {
  return zlib.crc32(buf) >>> 0;
}

export class SpoolCorruptError extends PermanentError {
  override readonly name = 'SpoolCorruptError';
}

export function partFileName(partNumber: number): string {
  return `part-${String(partNumber).padStart(5, '0')}.spool`;
}

/** Part numbers of the spool files in `dir`, ascending; [] when the folder does not exist. */
export async function listSpoolParts(dir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .map((n) => /^part-(\d{5})\.spool$/.exec(n)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

export async function makeSpoolDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask and ignored for existing folders.
  await fs.chmod(dir, 0o700);
}

/** Appends framed records to one part file. Not safe for concurrent appends: callers serialise. */
export class SpoolPartWriter {
  /** Payload bytes in this part (framing excluded). */
  payloadBytes = 0;

  private constructor(
    readonly partNumber: number,
    readonly file: string,
    private readonly handle: fs.FileHandle,
    private readonly fsync: boolean,
  ) {}

  static async create(dir: string, partNumber: number, fsync: boolean): Promise<SpoolPartWriter> {
    const file = path.join(dir, partFileName(partNumber));
    const handle = await fs.open(file, 'a', 0o600);
    return new SpoolPartWriter(partNumber, file, handle, fsync);
  }

  /**
   * Resolves once the record is in the kernel's page cache, which survives the death of this
   * process (kill -9, OOM); with `fsync` also once it is on the device.
   *
   * Without `fsync` the write is synchronous: copying a few KB into the page cache takes ~10 µs,
   * about half the CPU of a thread-pool round trip, and it spares the event loop the hop to and
   * from a pool thread (at 100 live sessions that is 500 hops a second on two cores, and a source
   * of ack-latency spikes; see BENCHMARKS.md). `datasync` waits on the device, so it stays async.
   */
  async append(payload: Uint8Array): Promise<void> {
    const header = Buffer.allocUnsafe(RECORD_HEADER);
    MAGIC.copy(header, 0);
    header.writeUInt32LE(payload.length, 4);
    header.writeUInt32LE(crc32(payload), 8);
    const buffers = [header, payload];
    const total = RECORD_HEADER + payload.length;
    let written = this.fsync ? (await this.handle.writev(buffers)).bytesWritten : writevSync(this.handle.fd, buffers);
    // A short write is rare on a regular file (disk full); finish it or fail.
    while (written < total) {
      written += (await this.handle.write(Buffer.concat(buffers).subarray(written))).bytesWritten;
    }
    if (this.fsync) await this.handle.datasync();
    this.payloadBytes += payload.length;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/**
 * Reads one part file back as the concatenated payloads. A trailing record cut short is the chunk
 * being written when the process died; it was never acknowledged, so it is dropped and reported
 * as `tornBytes`. Anything else that does not check out throws {@link SpoolCorruptError}.
 * The payloads are moved to the front of the buffer the file was read into, so a part is held
 * once, not twice (the returned `payload` is a view of that buffer).
 */
export async function readSpoolPart(file: string): Promise<{ payload: Buffer; records: number; tornBytes: number }> {
  const raw = await fs.readFile(file);
  let pos = 0;
  let out = 0;
  let records = 0;
  while (pos < raw.length) {
    if (raw.length - pos < RECORD_HEADER) {
      if (MAGIC.subarray(0, Math.min(4, raw.length - pos)).equals(raw.subarray(pos, pos + 4))) break;
      throw new SpoolCorruptError(`bad record header at byte ${pos} of ${path.basename(file)}`);
    }
    if (!raw.subarray(pos, pos + 4).equals(MAGIC)) {
      throw new SpoolCorruptError(`bad record header at byte ${pos} of ${path.basename(file)}`);
    }
    const len = raw.readUInt32LE(pos + 4);
    const crc = raw.readUInt32LE(pos + 8);
    if (len > MAX_RECORD) throw new SpoolCorruptError(`impossible record length at byte ${pos} of ${path.basename(file)}`);
    if (raw.length - pos - RECORD_HEADER < len) {
      // Only the last record can be torn. A whole record after this header means its length field
      // is damaged, and reading it as a torn tail would silently drop acknowledged audio.
      const later = wholeRecordAt(raw, pos + RECORD_HEADER);
      if (later !== -1) throw new SpoolCorruptError(`record length at byte ${pos} of ${path.basename(file)} runs over a whole record at byte ${later}`);
      break; // torn tail
    }
    const start = pos + RECORD_HEADER;
    if (crc32(raw.subarray(start, start + len)) !== crc) {
      throw new SpoolCorruptError(`checksum mismatch in record ${records} of ${path.basename(file)}`);
    }
    // Moves left past the headers already read (memmove), never over bytes still to be read.
    raw.copy(raw, out, start, start + len);
    out += len;
    records++;
    pos = start + len;
  }
  return { payload: raw.subarray(0, out), records, tornBytes: raw.length - pos };
}

/** Offset of the first whole, checksummed, non-empty record at or after `from` in `raw`, or -1. */
function wholeRecordAt(raw: Buffer, from: number): number {
  for (let at = raw.indexOf(MAGIC, from); at !== -1; at = raw.indexOf(MAGIC, at + 1)) {
    if (raw.length - at < RECORD_HEADER) return -1;
    const len = raw.readUInt32LE(at + 4);
    const end = at + RECORD_HEADER + len;
    if (len > 0 && len <= MAX_RECORD && end <= raw.length && crc32(raw.subarray(at + RECORD_HEADER, end)) === raw.readUInt32LE(at + 8)) return at;
  }
  return -1;
}
