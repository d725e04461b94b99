import { describe, expect, it } from 'vitest';
import { contiguous } from '../../../src/transcription/providers/aws-transcribe-medical/index.js';

/**
 * Queued PCM frames go to Transcribe as one audio event. The framer's frames of one chunk are views
 * of that chunk's PCM lying back to back: they become one view of it, not a copy.
 */
describe('contiguous (frames joined into one audio event)', () => {
  const pcm = Buffer.from(Array.from({ length: 12 }, (_, i) => i));

  it('gives one view of frames that lie back to back in one buffer, with their bytes in order', () => {
    const parts = [pcm.subarray(0, 4), pcm.subarray(4, 8), pcm.subarray(8, 12)];
    const joined = contiguous(parts, 12)!;
    expect(joined).toBeDefined();
    expect(joined.buffer).toBe(pcm.buffer); // a view: no copy
    expect(joined.byteOffset).toBe(pcm.byteOffset);
    expect([...joined]).toEqual([...Buffer.concat(parts)]);
  });

  it('gives nothing (the caller copies) for a gap, a reversed order or another buffer', () => {
    expect(contiguous([pcm.subarray(0, 4), pcm.subarray(6, 10)], 8)).toBeUndefined();
    expect(contiguous([pcm.subarray(4, 8), pcm.subarray(0, 4)], 8)).toBeUndefined();
    const other = Buffer.from(pcm.subarray(4, 8)); // the same bytes, elsewhere
    expect(contiguous([pcm.subarray(0, 4), other], 8)).toBeUndefined();
  });
});
