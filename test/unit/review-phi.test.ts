import { describe, expect, it } from 'vitest';
import { findPhi, namesFromTitle, redact } from '../../src/transcripts/phi/phi.js';
import { bleep, TONE_AMPLITUDE } from '../../src/transcripts/phi/redact-detail.js';

const scrub = (text: string, title = '') => redact(text, findPhi(text, { names: namesFromTitle(title) }));

describe('PHI rules', () => {
  it('replaces dates, phone numbers, record numbers and names from the title', () => {
    expect(scrub('Mrs Sharma was seen on 12/03/2026 and on 3rd of May 2026; call 07700 900123.', 'Mrs Sharma knee follow-up')).toBe(
      'Mrs [NAME] was seen on [DATE] and on [DATE]; call [PHONE].',
    );
    expect(scrub('MRN 4839201, NHS number 943 476 5919, born March 4th, 1961')).toBe('[ID], [ID], born [DATE]');
    expect(scrub('her number is five five five one two one two thank you')).toBe('her number is [PHONE] thank you');
    expect(scrub('Seen by Dr Okafor today')).toBe('Seen by Dr [NAME] today');
    expect(scrub("Sharma's knee", 'Review: Anil Sharma')).toBe('[NAME] knee');
  });

  it('leaves doses, vitals and ordinary words alone', () => {
    expect(scrub('metoprolol 25 mg twice daily, BP 140 over 90, pulse 72', 'Knee follow-up')).toBe('metoprolol 25 mg twice daily, BP 140 over 90, pulse 72');
    expect(namesFromTitle('Mrs Gupta knee follow-up')).toEqual(['Gupta']);
  });

  it('finds the engine\'s PHI entities again in the text', () => {
    const entities = [{ type: 'PHI', content: 'Lakeside Road', startMs: 0, endMs: 500 }];
    expect(redact('lives on Lakeside Road', findPhi('lives on Lakeside Road', { entities }))).toBe('lives on [NAME]');
  });
});

describe('bleep', () => {
  it('replaces exactly the given stretches with the tone and keeps the rest', () => {
    const pcm = Buffer.alloc(16000 * 2, 1); // 1 s of a constant non-zero sample
    const out = bleep(pcm, 16000, [{ startMs: 250, endMs: 500 }]);
    expect(out.readInt16LE(0)).toBe(pcm.readInt16LE(0));
    expect(out.subarray(0, 4000 * 2).equals(pcm.subarray(0, 4000 * 2))).toBe(true);
    expect(out.subarray(8000 * 2).equals(pcm.subarray(8000 * 2))).toBe(true);
    const peak = Math.max(...Array.from({ length: 4000 }, (_, i) => Math.abs(out.readInt16LE((4000 + i) * 2))));
    expect(peak).toBe(TONE_AMPLITUDE);
  });
});
