/**
 * True when `value` holds a string with a NUL character anywhere (keys included), looking at most
 * `maxDepth` levels deep. PostgreSQL's `text` and `jsonb` cannot store U+0000: such input must be
 * refused as invalid before it reaches a query, or it surfaces as a 500. Deeper structures than
 * `maxDepth` count as containing one, so a hostile nesting depth is refused too.
 */
export function containsNul(value: unknown, maxDepth = 32): boolean {
  const seen = new Set<object>();
  const visit = (v: unknown, depth: number): boolean => {
    if (typeof v === 'string') return v.includes('\u0000');
    if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return false;
    if (depth >= maxDepth) return true;
    if (seen.has(v)) return false;
    seen.add(v);
    for (const [k, child] of Object.entries(v)) {
      if (k.includes('\u0000') || visit(child, depth + 1)) return true;
    }
    return false;
  };
  return visit(value, 0);
}

/**
 * Bidirectional control characters (LRE/RLE/PDF/LRO/RLO, LRI/RLI/FSI/PDI, LRM/RLM/ALM): in a title
 * they make a title such as "Consult <RLO>fdp.exe" display as "Consult exe.pdf" in lists and file
 * names (trojan-source style).
 */
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;

/** Removes bidirectional control characters (see {@link BIDI_CONTROLS}). */
export function withoutBidiControls(s: string): string {
  return s.replace(BIDI_CONTROLS, '');
}

/** Replaces NUL characters, which PostgreSQL cannot store, with U+FFFD. */
export function withoutNul(s: string): string {
  return s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s;
}
