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

describe('Transcribe Medical custom vocabulary', () => {
  it('sends VocabularyName; a vocabulary Transcribe refuses (not READY, or gone) is dropped and the stream opens without it rather than failing', async () => {
    const { startVocabularyStandIn } = await import('../support/transcribe-vocabularies.js');
    const vocab = await startVocabularyStandIn({ readFile: async () => 'Phrase\tSoundsLike\tIPA\tDisplayAs\ntirzepatide\t\t\t\n' });
    const strict = await startTranscribeServer({ script: SCRIPT, vocabularies: vocab });
    const engine = await createAwsTranscribeMedicalEngine({ region: 'us-east-1', endpoint: strict.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }, logger);
    const run = async (name: string) => {
      const stream = await engine.start({ sampleRate: 16000, specialty: 'CARDIOLOGY', type: 'DICTATION', languageCode: 'en-US', sessionId: 'vocab-test', vocabulary: { name, terms: [{ phrase: 'tirzepatide' }] } });
      const finals: string[] = [];
      const reading = (async () => {
        for await (const r of stream) if (r.kind === 'final' && r.text) finals.push(r.text);
      })();
      const pcm = readSharedPcm('real/jfk.wav').subarray(0, 5 * 32_000);
      for (let i = 0; i < pcm.length; i += 3200) stream.write(pcm.subarray(i, i + 3200));
      await stream.end();
      await reading;
      return finals;
    };
    try {
      // Known and READY: sent, accepted.
      const { CreateMedicalVocabularyCommand, TranscribeClient } = await import('@aws-sdk/client-transcribe');
      const control = new TranscribeClient({ region: 'us-east-1', endpoint: vocab.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
      await control.send(new CreateMedicalVocabularyCommand({ VocabularyName: 'v-ready', LanguageCode: 'en-US', VocabularyFileUri: 's3://b/k' }));
      control.destroy();
      vocab.process();
      expect((await run('v-ready')).length).toBeGreaterThan(0);
      expect(strict.requests.map((r) => [r.vocabularyName, r.outcome])).toEqual([['v-ready', 'completed']]);

      // Unknown to Transcribe: refused once, then the same stream without it.
      expect((await run('v-gone')).length).toBeGreaterThan(0);
      expect(strict.requests.slice(1).map((r) => [r.vocabularyName, r.outcome])).toEqual([
        ['v-gone', 'rejected'],
        [undefined, 'completed'],
      ]);
    } finally {
      await engine.close();
      await strict.close();
      await vocab.close();
    }
  });
});
