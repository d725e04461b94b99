import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { createAwsTranscribeMedicalEngine } from '../../src/transcription/providers/aws-transcribe-medical/index.js';
import type { TranscriptResult } from '../../src/transcription/port.js';
import { readSharedPcm } from '../support/audio.js';
import { startTranscribeServer, type TranscribeServer } from '../support/transcribe-server.js';

const logger = createLogger({ level: 'silent' });
const SCRIPT = 'mrs sharma takes warfarin five mg since yesterday and calls five five five one two one two';
let server: TranscribeServer;

beforeAll(async () => {
  server = await startTranscribeServer({
    script: SCRIPT,
    phiWords: ['sharma', 'yesterday'],
    // Every fourth word heard badly.
    confidenceAt: (i) => (i % 4 === 3 ? 0.42 : 0.97),
  });
});
afterAll(() => server?.close());

describe('Transcribe Medical words and PHI', () => {
  it('asks for ContentIdentificationType=PHI and gives every final its words (confidence, times inside the result) and PHI entity spans', async () => {
    const engine = await createAwsTranscribeMedicalEngine({ region: 'us-east-1', endpoint: server.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }, logger);
    try {
      const stream = await engine.start({ sampleRate: 16000, specialty: 'PRIMARYCARE', type: 'DICTATION', languageCode: 'en-US', sessionId: 'words-test' });
      const results: TranscriptResult[] = [];
      const reading = (async () => {
        for await (const r of stream) results.push(r);
      })();
      const pcm = readSharedPcm('real/jfk.wav');
      for (let i = 0; i < pcm.length; i += 3200) stream.write(pcm.subarray(i, i + 3200));
      await stream.end();
      await reading;
      expect(server.requests.at(-1)?.contentIdentificationType).toBe('PHI');
      const finals = results.filter((r) => r.kind === 'final' && r.text);
      expect(finals.length).toBeGreaterThanOrEqual(2);
      for (const f of finals) {
        expect(f.words?.map((w) => w.text).join(' ')).toBe(f.text);
        for (const w of f.words!) {
          expect(w.startMs).toBeGreaterThanOrEqual(f.startMs);
          expect(w.endMs).toBeLessThanOrEqual(f.endMs + 1);
          expect([0.42, 0.97]).toContain(w.confidence);
        }
      }
      expect(results.filter((r) => r.kind === 'partial').every((r) => r.words === undefined && r.phi === undefined)).toBe(true);
      const phi = finals.flatMap((f) => f.phi ?? []);
      expect(phi.map((p) => [p.type, p.content])).toEqual(expect.arrayContaining([['PHI', 'sharma'], ['PHI', 'yesterday']]));
      const name = phi.find((p) => p.content === 'sharma')!;
      const word = finals.flatMap((f) => f.words!).find((w) => w.text === 'sharma')!;
      expect([name.startMs, name.endMs]).toEqual([word.startMs, word.endMs]);
    } finally {
      await engine.close();
    }
  });
});
