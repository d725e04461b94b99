import { describe, expect, it } from 'vitest';
import { SPECIALTIES as SERVER_SPECIALTIES } from '../../../src/transcripts/types.js';
import { fmtSpan, fmtClock, speakerName } from '../../../public/lib/format.js';
import { SPECIALTIES, specialtyName } from '../../../public/lib/specialties.js';

describe('public/lib/specialties.js', () => {
  it('lists exactly the server\'s specialty codes, in the server\'s order (the first is the page\'s default)', () => {
    expect(SPECIALTIES.map(([code]) => code)).toEqual([...SERVER_SPECIALTIES]);
  });

  it('names a known code in words and leaves an unknown one (or an inherited property name) as it is', () => {
    expect(specialtyName('PRIMARYCARE')).toBe('Primary care');
    expect(specialtyName('DERMATOLOGY')).toBe('DERMATOLOGY');
    expect(specialtyName('toString')).toBe('toString');
  });
});

describe('public/lib/format.js', () => {
  it('fmtSpan says whole minutes in minutes and anything else in seconds, singular for one', () => {
    expect(fmtSpan(300_000)).toBe('5 minutes');
    expect(fmtSpan(60_000)).toBe('1 minute');
    expect(fmtSpan(90_000)).toBe('90 seconds');
    expect(fmtSpan(1_000)).toBe('1 second');
    expect(fmtSpan(45_400)).toBe('45 seconds');
  });

  it('fmtClock and speakerName read as on the pages', () => {
    expect(fmtClock(7_999)).toBe('0:07');
    expect(fmtClock(3_723_000)).toBe('1:02:03');
    expect(fmtClock(null)).toBe('—');
    expect(speakerName('spk_0')).toBe('Speaker 1');
    expect(speakerName('Dr Rao')).toBe('Dr Rao');
  });
});
