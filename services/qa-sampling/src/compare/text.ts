import { charDistance, codePointLength, sequenceDistance, words } from './edit-distance.js';
import type { Comparison, TextValue } from './types.js';

/** A textarea's entries are one text, joined by newlines (the order of entries matters). */
export function joinText(v: TextValue | undefined): string {
  return (v?.text ?? []).join('\n');
}

/**
 * Transcription normalization: Unicode NFC (so a precomposed "é" equals "e" + combining acute) and
 * whitespace runs collapsed to one space, trimmed. Case and punctuation are kept: they are part of a
 * transcription.
 */
export function normalizeTranscription(s: string): string {
  return s.normalize('NFC').replace(/\s+/gu, ' ').trim();
}

/**
 * Free-text normalization: NFKC (compatibility forms: full-width letters, ligatures), lower case,
 * punctuation removed, whitespace collapsed and trimmed. "Yes." and " yes" are the same answer.
 */
export function normalizeFreeText(s: string): string {
  return s.normalize('NFKC').toLowerCase().replace(/\p{P}+/gu, ' ').replace(/\s+/gu, ' ').trim();
}

export interface TranscriptionCompareOptions {
  /** Which error rate the score is built from (default 'cer'). */
  metric?: 'cer' | 'wer';
  /** Pass when score >= passScore (default 0.9, i.e. about CER <= 10%). */
  passScore?: number;
  /** Apply normalizeTranscription first (default true). */
  normalize?: boolean;
}

export interface TranscriptionComparison extends Comparison {
  /** Character error rate of `a` against the reference `b`: edits / |b| in code points (can exceed 1). */
  cer: number;
  /** Word error rate of `a` against `b`: word edits / words of `b`. */
  wer: number;
  charDistance: number;
  wordDistance: number;
}

/**
 * CER and WER of `a` against the reference `b`; the score is symmetric, 1 − distance / max(|a|, |b|)
 * in the chosen unit, so it stays in [0, 1] and does not depend on which answer is the reference.
 * An empty reference gives an error rate of 0 against an empty answer and 1 against any other.
 */
export function compareTranscription(a: TextValue | undefined, b: TextValue | undefined, options: TranscriptionCompareOptions = {}): TranscriptionComparison {
  const norm = options.normalize === false ? (s: string) => s : normalizeTranscription;
  const ta = norm(joinText(a));
  const tb = norm(joinText(b));
  const cd = charDistance(ta, tb);
  const la = codePointLength(ta);
  const lb = codePointLength(tb);
  const wa = words(ta);
  const wb = words(tb);
  const wd = sequenceDistance(wa, wb);
  const rate = (d: number, ref: number) => (ref === 0 ? (d === 0 ? 0 : 1) : d / ref);
  const cer = rate(cd, lb);
  const wer = rate(wd, wb.length);
  const useWords = options.metric === 'wer';
  const d = useWords ? wd : cd;
  const longest = useWords ? Math.max(wa.length, wb.length) : Math.max(la, lb);
  const score = longest === 0 ? 1 : 1 - d / longest;
  return { score, pass: score >= (options.passScore ?? 0.9), cer, wer, charDistance: cd, wordDistance: wd };
}

export interface FreeTextCompareOptions {
  /** Pass threshold; the score is 0 or 1 (default 1). */
  passScore?: number;
}

/** Normalized exact match (see normalizeFreeText). Two empty answers match. */
export function compareFreeText(a: TextValue | undefined, b: TextValue | undefined, options: FreeTextCompareOptions = {}): Comparison {
  const score = normalizeFreeText(joinText(a)) === normalizeFreeText(joinText(b)) ? 1 : 0;
  return { score, pass: score >= (options.passScore ?? 1) };
}
