/** Lower case, digits/letters/apostrophes only, split on whitespace. */
export function normaliseWords(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9'\s]+/g, ' ')
    .replace(/'(?![a-z])|(?<![a-z])'/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
}

/** Word-level Levenshtein distance (substitutions + deletions + insertions). */
export function wordEdits(ref: readonly string[], hyp: readonly string[]): number {
  let prev = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i++) {
    const cur = [i];
    for (let j = 1; j <= hyp.length; j++) {
      const sub = prev[j - 1]! + (ref[i - 1] === hyp[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, prev[j]! + 1, cur[j - 1]! + 1));
    }
    prev = cur;
  }
  return prev[hyp.length]!;
}

/** Word error rate of one hypothesis against one reference, with the counts behind it. */
export function wer(reference: string, hypothesis: string): { wer: number; edits: number; refWords: number } {
  const ref = normaliseWords(reference);
  const edits = wordEdits(ref, normaliseWords(hypothesis));
  return { wer: ref.length === 0 ? (edits === 0 ? 0 : 1) : edits / ref.length, edits, refWords: ref.length };
}
