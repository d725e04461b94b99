import { createLogger } from '../src/lib/logger.js';
import { createLocalEngine, FAST_SEARCH_ARGS } from '../src/transcription/providers/local/index.js';
import { readReferences, readSharedPcm } from '../test/support/audio.js';
import { wer } from '../test/support/wer.js';
for (const extra of [[], ['-cmn', 'live'], ['-cmn', 'live', '-cmninit', '41.00,-5.29,-0.12,5.09,2.48,-4.07,-1.37,-1.78,-5.08,-2.05,-6.45,-1.42,1.17'], ['-vad_threshold', '3.0'], ['-vad_postspeech', '80']]) {
  const engine = createLocalEngine({ workers: 1, searchArgs: [...FAST_SEARCH_ARGS, ...extra] }, createLogger({ level: 'warn' }));
  const out: string[] = [];
  for (const f of ['jfk.wav', '1089-134686-0000.wav']) {
    const ref = readReferences('real').find((r) => r.file === f)!.text;
    const pcm = readSharedPcm('real/' + f);
    const s = await engine.start({ sampleRate: 16000, specialty: 'PRIMARYCARE', type: 'DICTATION', languageCode: 'en-US', sessionId: 'x' });
    const finals: string[] = [];
    const r = (async () => { for await (const x of s) if (x.kind === 'final') finals.push(x.text); })();
    for (let i = 0; i < pcm.length; i += 3200) s.write(pcm.subarray(i, i + 3200));
    await s.end(); await r;
    out.push(`${f} ${(wer(ref, finals.join(' ')).wer * 100).toFixed(0)}% [${finals.length}]`);
  }
  console.log(extra.join(' ') || 'base', out.join(' | '));
  await engine.close();
}
