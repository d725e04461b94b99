import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { ProviderError } from '../../src/transcription/port.js';
import { createLocalEngine } from '../../src/transcription/providers/local/index.js';
import { DEBIAN_MODEL_DIR } from '../../src/transcription/providers/local/pocketsphinx.js';

const logger = createLogger({ level: 'silent' });
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('offline engine setup failures', () => {
  it('a corrupt language model makes check() and start() reject with a non-retryable engine_setup error', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-badlm-'));
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, 'en-us.lm.bin'), crypto.randomBytes(64 * 1024));
    fs.copyFileSync(path.join(DEBIAN_MODEL_DIR, 'cmudict-en-us.dict'), path.join(dir, 'cmudict-en-us.dict'));
    const engine = createLocalEngine({ workers: 1, lmDir: dir }, logger);
    try {
      const err = await engine.check().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ retryable: false, code: 'engine_setup' });
      await expect(engine.start({ sampleRate: 16000, specialty: 'PRIMARYCARE', type: 'DICTATION', languageCode: 'en-US', sessionId: 't' })).rejects.toMatchObject({ code: 'engine_setup' });
    } finally {
      await engine.close();
    }
  });

  it('a missing model directory fails at construction, naming the file', () => {
    expect(() => createLocalEngine({ workers: 1, lmDir: path.join(os.tmpdir(), 'no-such-model-dir') }, logger)).toThrow(/en-us\.lm\.bin/);
  });
});
