import { describe, expect, it } from 'vitest';
import { DRUG_NAMES } from '../../src/transcripts/risk/drug-names.js';
import { normalise, riskFlags, tokenize } from '../../src/transcripts/risk/flags.js';

const flagsOf = (text: string) => {
  const words = text.split(' ');
  return Object.fromEntries(riskFlags(words).map((f, i) => [words[i], f]).filter(([, f]) => (f as string[]).length > 0));
};

describe('risk flags', () => {
  it('flags doses, frequencies, laterality, negations and drug names, and leaves ordinary words alone', () => {
    expect(flagsOf('Patient denies chest pain, takes metoprolol 25 mg twice daily for the left knee')).toEqual({
      denies: ['negation'],
      metoprolol: ['drug'],
      '25': ['dose'],
      mg: ['dose'],
      twice: ['frequency'],
      daily: ['frequency'],
      left: ['laterality'],
    });
    expect(flagsOf('warfarin 5mg b.i.d. no bleeding')).toEqual({ warfarin: ['drug'], '5mg': ['dose'], 'b.i.d.': ['frequency'], no: ['negation'] });
    expect(flagsOf('two tablets q8h prn right-sided pain')).toMatchObject({ two: ['dose'], tablets: ['dose'], q8h: ['frequency'], prn: ['frequency'] });
    expect(flagsOf("she doesn't smoke and walks three times a day")).toEqual({ "doesn't": ['negation'], times: ['frequency'], day: ['frequency'] });
    expect(flagsOf('the weather was pleasant on the walk')).toEqual({});
  });

  it('normalises case, punctuation and dotted abbreviations', () => {
    expect(normalise('Metoprolol,')).toBe('metoprolol');
    expect(normalise('(b.i.d.)')).toBe('bid');
    expect(normalise('Don’t')).toBe("don't");
  });

  it('ships a curated drug list in lower case', () => {
    expect(DRUG_NAMES.size).toBeGreaterThan(150);
    for (const d of DRUG_NAMES) expect(d).toBe(d.toLowerCase());
  });
});

describe('tokenize', () => {
  const words = [
    { text: 'take', startMs: 0, endMs: 300, confidence: 0.98 },
    { text: 'metoprolol', startMs: 300, endMs: 900, confidence: 0.41 },
    { text: 'daily', startMs: 900, endMs: 1300, confidence: 0.95 },
  ];

  it('gives unedited text the engine words\' timing and confidence, and flags low confidence', () => {
    const { tokens, flagged } = tokenize({ text: 'Take metoprolol daily.', machineText: 'Take metoprolol daily.', words, fallback: false });
    expect(tokens).toEqual([
      { text: 'Take', startMs: 0, endMs: 300, confidence: 0.98 },
      { text: 'metoprolol', startMs: 300, endMs: 900, confidence: 0.41, flags: ['low_confidence', 'drug'] },
      { text: 'daily.', startMs: 900, endMs: 1300, confidence: 0.95, flags: ['frequency'] },
    ]);
    expect(flagged).toBe(2);
  });

  it('marks every word of a fallback-engine segment, and drops engine timing and fallback once a reviewer edited it', () => {
    expect(tokenize({ text: 'take it', machineText: 'take it', words: null, fallback: true }).tokens).toEqual([
      { text: 'take', flags: ['fallback'] },
      { text: 'it', flags: ['fallback'] },
    ]);
    const edited = tokenize({ text: 'Take atenolol daily.', machineText: 'Take metoprolol daily.', words, fallback: true });
    expect(edited.tokens).toEqual([{ text: 'Take' }, { text: 'atenolol', flags: ['drug'] }, { text: 'daily.', flags: ['frequency'] }]);
  });
});
