import { distance as bitParallelDistance } from 'fastest-levenshtein';

/**
 * Levenshtein distance between two symbol sequences (code points or words). Symbols are interned
 * to single UTF-16 code units so fastest-levenshtein's bit-parallel (Myers) routine does the work:
 * it compares code units, so an emoji (two units) or a word (many) must become one unit first.
 * More than 65,536 distinct symbols in one pair falls back to the two-row dynamic programme.
 */
export function sequenceDistance(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  const codes = new Map<string, number>();
  const encode = (seq: readonly string[]): string | null => {
    const units = new Uint16Array(seq.length);
    for (let i = 0; i < seq.length; i++) {
      let c = codes.get(seq[i]!);
      if (c === undefined) {
        c = codes.size;
        if (c > 0xffff) return null;
        codes.set(seq[i]!, c);
      }
      units[i] = c;
    }
    let s = '';
    for (let i = 0; i < units.length; i += 8192) s += String.fromCharCode(...units.subarray(i, i + 8192));
    return s;
  };
  const ea = encode(a);
  const eb = ea === null ? null : encode(b);
  if (ea !== null && eb !== null) return bitParallelDistance(ea, eb);
  return dpDistance(a, b);
}

function dpDistance(a: readonly string[], b: readonly string[]): number {
  let prev = new Int32Array(b.length + 1);
  let cur = new Int32Array(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const sub = prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur[j] = Math.min(sub, prev[j]! + 1, cur[j - 1]! + 1);
    }
    const t = prev;
    prev = cur;
    cur = t;
  }
  return prev[b.length]!;
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** Edit distance over Unicode code points (not UTF-16 units). */
export function charDistance(a: string, b: string): number {
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return bitParallelDistance(a, b);
  return sequenceDistance(Array.from(a), Array.from(b));
}

/** Number of code points. */
export function codePointLength(s: string): number {
  if (!SURROGATE.test(s)) return s.length;
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Words: maximal runs of non-whitespace (scripts written without spaces count as one word per run). */
export function words(s: string): string[] {
  const t = s.trim();
  return t ? t.split(/\s+/u) : [];
}
