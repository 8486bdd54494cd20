import { charDistance, codePointLength, sequenceDistance, words } from '../compare/edit-distance.js';
import { joinText, normalizeTranscription } from '../compare/text.js';
import type { TextValue } from '../compare/types.js';

export interface TextAggregationOptions {
  /** Distance unit (default 'cer'). */
  metric?: 'cer' | 'wer';
  /** Normalize before comparing (default true); the result is the medoid's original value. */
  normalize?: boolean;
}

export interface TextAggregation {
  value: TextValue;
  /** Index of the chosen annotation. */
  index: number;
  /** 1 − the mean normalized distance (distance / longer length) from the chosen one to the others; 1 for a single annotation. */
  agreement: number;
  confidence: number;
}

/**
 * Transcription by medoid: the annotation with the smallest summed normalized edit distance to all
 * others (ties to the earliest). n annotations cost n(n − 1)/2 bit-parallel distances.
 */
export function aggregateText(annotations: readonly (TextValue | undefined)[], options: TextAggregationOptions = {}): TextAggregation {
  const n = annotations.length;
  if (n === 0) return { value: { text: [] }, index: -1, agreement: 1, confidence: 1 };
  const norm = options.normalize === false ? (s: string) => s : normalizeTranscription;
  const texts = annotations.map((a) => norm(joinText(a)));
  const useWords = options.metric === 'wer';
  const tokens = useWords ? texts.map(words) : null;
  const lengths = useWords ? tokens!.map((t) => t.length) : texts.map(codePointLength);
  const dist = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const longest = Math.max(lengths[i]!, lengths[j]!);
      const d = longest === 0 ? 0 : (useWords ? sequenceDistance(tokens![i]!, tokens![j]!) : charDistance(texts[i]!, texts[j]!)) / longest;
      dist[i * n + j] = d;
      dist[j * n + i] = d;
    }
  }
  let best = 0;
  let bestSum = Infinity;
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < n; j++) sum += dist[i * n + j]!;
    if (sum < bestSum) ((bestSum = sum), (best = i));
  }
  const agreement = n === 1 ? 1 : 1 - bestSum / (n - 1);
  return { value: { text: [...(annotations[best]?.text ?? [])] }, index: best, agreement, confidence: agreement };
}
