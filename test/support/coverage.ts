/**
 * Checks a transcript's finals against the audio sent: sorted by time, no final repeats audio an
 * earlier one covered (overlap beyond `maxOverlapMs`), optionally no hole beyond `maxHoleMs`, and
 * the last one ends within `endToleranceMs` of the audio's end. Returns the problems found.
 */
export function coverageProblems(
  finals: ReadonlyArray<{ segmentId: string; startMs: number; endMs: number }>,
  audioMs: number,
  opts: { maxOverlapMs?: number; maxHoleMs?: number; endToleranceMs?: number; startToleranceMs?: number } = {},
): string[] {
  const problems: string[] = [];
  const maxOverlap = opts.maxOverlapMs ?? 150;
  const sorted = [...finals].sort((a, b) => a.startMs - b.startMs);
  if (new Set(finals.map((f) => f.segmentId)).size !== finals.length) problems.push('a segment id repeats');
  if (sorted.length === 0) return [...problems, 'no finals'];
  if (opts.startToleranceMs !== undefined && sorted[0]!.startMs > opts.startToleranceMs) problems.push(`first final starts at ${sorted[0]!.startMs} ms`);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.startMs < prev.endMs - maxOverlap) problems.push(`final ${i} [${cur.startMs}, ${cur.endMs}] overlaps [${prev.startMs}, ${prev.endMs}]`);
    if (opts.maxHoleMs !== undefined && cur.startMs > prev.endMs + opts.maxHoleMs) problems.push(`hole before final ${i}: ${prev.endMs} → ${cur.startMs}`);
  }
  const last = Math.max(...sorted.map((f) => f.endMs));
  if (opts.endToleranceMs !== undefined && Math.abs(audioMs - last) > opts.endToleranceMs) problems.push(`last final ends at ${last} ms of ${audioMs} ms`);
  return problems;
}

/** `ms` of a steady tone: every frame is "speech" to the scripted engines, so their times are exact. */
export function tonePcm(ms: number, hz = 300, amplitude = 4000): Buffer {
  const n = Math.round((ms * 16000) / 1000);
  const out = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) out.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / 16000)), i * 2);
  return out;
}
