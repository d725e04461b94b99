import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { crc32, listSpoolParts, makeSpoolDir, partFileName, readSpoolPart, SpoolCorruptError, SpoolPartWriter } from '../../../src/recordings/spool.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-unit-spool2-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => fs.mkdtempSync(path.join(root, `d${n++}-`));

/** A spool file written by SpoolPartWriter with these payloads; returns its path. */
async function spoolOf(payloads: Buffer[], fsync = false): Promise<string> {
  const w = await SpoolPartWriter.create(freshDir(), 1, fsync);
  for (const p of payloads) await w.append(p);
  await w.close();
  return w.file;
}

function patch(file: string, at: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, bytes, 0, bytes.length, at);
  fs.closeSync(fd);
}

async function corrupt(file: string): Promise<string> {
  try {
    await readSpoolPart(file);
  } catch (err) {
    expect(err).toBeInstanceOf(SpoolCorruptError);
    return (err as Error).message;
  }
  throw new Error('read without error');
}

const A = Buffer.alloc(100, 0xa1);
const B = Buffer.alloc(3000, 0xb2);
const C = Buffer.from('the last acknowledged chunk');

describe('spool records', () => {
  it('frame each chunk as "ARS1", length and CRC-32 (u32 LE), then the payload, byte for byte', async () => {
    const w = await SpoolPartWriter.create(freshDir(), 42, false);
    expect(path.basename(w.file)).toBe('part-00042.spool');
    expect(w.partNumber).toBe(42);
    await w.append(C);
    await w.append(Buffer.alloc(0));
    expect(w.payloadBytes).toBe(C.length);
    await w.close();
    const header = Buffer.alloc(12);
    header.write('ARS1', 0, 'latin1');
    header.writeUInt32LE(C.length, 4);
    header.writeUInt32LE(crc32(C), 8);
    const empty = Buffer.from('ARS1\0\0\0\0\0\0\0\0', 'latin1');
    expect(fs.readFileSync(w.file)).toEqual(Buffer.concat([header, C, empty]));
    expect(fs.statSync(w.file).mode & 0o777).toBe(0o600);
  });

  it('use the IEEE CRC-32 (check value of "123456789")', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('read back as the payloads in order, with the record count, with or without fsync', async () => {
    for (const fsync of [false, true]) {
      const r = await readSpoolPart(await spoolOf([A, B, C], fsync));
      expect(r).toEqual({ payload: Buffer.concat([A, B, C]), records: 3, tornBytes: 0 });
    }
    expect(await readSpoolPart(await spoolOf([]))).toEqual({ payload: Buffer.alloc(0), records: 0, tornBytes: 0 });
  });

  it('drop a tail cut anywhere inside the last record (never acknowledged) and say how much', async () => {
    const whole = fs.readFileSync(await spoolOf([A, B]));
    const first = 12 + A.length;
    for (const cut of [first + 1, first + 4, first + 11, first + 12, whole.length - 1]) {
      const file = path.join(freshDir(), 'part-00001.spool');
      fs.writeFileSync(file, whole.subarray(0, cut));
      expect(await readSpoolPart(file), `cut at ${cut}`).toEqual({ payload: A, records: 1, tornBytes: cut - first });
    }
  });

  it('refuse a damaged record instead of dropping the acknowledged audio after it', async () => {
    const file = await spoolOf([A, B, C]);
    const second = 12 + A.length;
    // A length field damaged to an impossible value is damage, not a torn tail.
    patch(file, second + 4, Buffer.from([0xff, 0xff, 0xff, 0xff]));
    expect(await corrupt(file)).toBe(`impossible record length at byte ${second} of part-00001.spool`);
    const justOver = await spoolOf([A, B, C]);
    const over = Buffer.alloc(4);
    over.writeUInt32LE(4 * 1024 * 1024 + 1);
    patch(justOver, second + 4, over);
    expect(await corrupt(justOver)).toMatch(/^impossible record length/);

    const flipped = await spoolOf([A, B, C]);
    patch(flipped, second + 12 + 1500, Buffer.from([0x00]));
    expect(await corrupt(flipped)).toBe('checksum mismatch in record 1 of part-00001.spool');

    const magic = await spoolOf([A, B, C]);
    patch(magic, second, Buffer.from('ARS2'));
    expect(await corrupt(magic)).toBe(`bad record header at byte ${second} of part-00001.spool`);
  });

  it('refuse a damaged length that still fits the 4 MiB limit but runs over later whole records', async () => {
    const file = await spoolOf([A, B, C]);
    const second = 12 + A.length;
    const len = Buffer.alloc(4);
    len.writeUInt32LE(1024 * 1024);
    patch(file, second + 4, len);
    expect(await corrupt(file)).toBe(`record length at byte ${second} of part-00001.spool runs over a whole record at byte ${second + 12 + B.length}`);
    // The last record torn, with audio that happens to hold the magic (but no whole record) after it.
    const torn = await spoolOf([A]);
    const header = Buffer.alloc(12);
    header.write('ARS1', 0, 'latin1');
    header.writeUInt32LE(5000, 4);
    const fake = Buffer.from('ARS1\0\0\0\0\0\0\0\0ARS1\x05\0\0\0\0\0\0\0abcdeARS1', 'latin1');
    fs.appendFileSync(torn, Buffer.concat([header, fake]));
    expect(await readSpoolPart(torn)).toEqual({ payload: A, records: 1, tornBytes: 12 + fake.length });
  });

  it('treat a short tail that is not the start of a record header as damage', async () => {
    const file = await spoolOf([A]);
    fs.appendFileSync(file, Buffer.from('AR'));
    expect(await readSpoolPart(file)).toEqual({ payload: A, records: 1, tornBytes: 2 });
    const junk = await spoolOf([A]);
    fs.appendFileSync(junk, Buffer.from('ARX'));
    expect(await corrupt(junk)).toBe(`bad record header at byte ${12 + A.length} of part-00001.spool`);
  });

  it('accept a length of exactly 4 MiB as a torn record, not as damage', async () => {
    const file = await spoolOf([A]);
    const header = Buffer.alloc(12);
    header.write('ARS1', 0, 'latin1');
    header.writeUInt32LE(4 * 1024 * 1024, 4);
    fs.appendFileSync(file, Buffer.concat([header, Buffer.alloc(10)]));
    expect(await readSpoolPart(file)).toEqual({ payload: A, records: 1, tornBytes: 22 });
  });
});

describe('spool folders', () => {
  it('name parts with five digits and list them in numeric order, ignoring other files', async () => {
    expect(partFileName(7)).toBe('part-00007.spool');
    expect(partFileName(12_345)).toBe('part-12345.spool');
    const dir = freshDir();
    for (const name of ['part-00010.spool', 'part-00002.spool', 'part-00001.spool', 'part-1.spool', 'part-00003.spool.tmp', 'xpart-00004.spool', 'notes']) {
      fs.writeFileSync(path.join(dir, name), '');
    }
    expect(await listSpoolParts(dir)).toEqual([1, 2, 10]);
    expect(await listSpoolParts(path.join(dir, 'missing'))).toEqual([]);
    await expect(listSpoolParts(path.join(dir, 'notes'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it('make the folder private (0700) even when it existed with a wider mode', async () => {
    const dir = path.join(freshDir(), 'a', 'b');
    await makeSpoolDir(dir);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    fs.chmodSync(dir, 0o755);
    await makeSpoolDir(dir);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
  });
});
