import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseWav } from '../../src/audio/wav.js';

const run = promisify(execFile);

/** `../shared/audio` beside the project (see shared/audio/README.md). */
export const SHARED_AUDIO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/audio');

/** One reference row of a folder's references.tsv. */
export interface Reference {
  file: string;
  text: string;
}

export function readReferences(folder: string): Reference[] {
  return fs
    .readFileSync(path.join(SHARED_AUDIO, folder, 'references.tsv'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [file = '', text = ''] = l.split('\t');
      return { file, text: text.trim() };
    });
}

/** 16 kHz mono s16le samples of a shared WAV. */
export function readSharedPcm(rel: string): Buffer {
  const wav = parseWav(fs.readFileSync(path.join(SHARED_AUDIO, rel)));
  if (wav.sampleRate !== 16000 || wav.channels !== 1) throw new Error(`${rel}: expected 16 kHz mono`);
  return wav.data;
}

/**
 * Encodes a shared WAV to Opus with Debian's ffmpeg (libopus), into a temp dir. `live` writes to a
 * pipe, so the WebM has unknown-size Segment/Clusters as MediaRecorder writes them.
 */
export async function encodeOpus(rel: string, container: 'webm' | 'ogg', live = true, channels: 1 | 2 = 1): Promise<Buffer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-opus-'));
  try {
    const input = path.join(SHARED_AUDIO, rel);
    const args = ['-hide_banner', '-loglevel', 'error', '-i', input, '-ac', String(channels), '-c:a', 'libopus', '-b:a', '32k', '-f', container];
    if (live) {
      const { stdout } = await run('ffmpeg', [...args, 'pipe:1'], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
      return stdout;
    }
    const out = path.join(dir, `out.${container}`);
    await run('ffmpeg', [...args, out]);
    return fs.readFileSync(out);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') {
      throw new Error('ffmpeg is needed to make Opus test input: scripts/system-deps.sh --install --test', { cause: err });
    }
    throw err;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Deterministic PRNG (mulberry32) so chunk boundaries are random but reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits a buffer at random boundaries (1..maxChunk bytes). */
export function randomChunks(buf: Buffer, seed: number, maxChunk = 4000): Buffer[] {
  const r = rng(seed);
  const out: Buffer[] = [];
  for (let pos = 0; pos < buf.length; ) {
    const n = 1 + Math.floor(r() * maxChunk);
    out.push(buf.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}
