import { compareChoices, type ChoicesComparison, type ChoicesCompareOptions } from './choices.js';
import { compareKeypoints, type KeypointsComparison, type KeypointsCompareOptions } from './keypoints.js';
import { compareNumber, compareRating, type NumericComparison, type NumericCompareOptions } from './numeric.js';
import { comparePolygons, type PolygonsComparison, type PolygonsCompareOptions } from './polygons.js';
import { compareRectangles, type RectanglesComparison, type RectanglesCompareOptions } from './rectangles.js';
import { compareSpans, type SpansCompareOptions } from './spans.js';
import { compareFreeText, compareTranscription, type FreeTextCompareOptions, type TranscriptionComparison, type TranscriptionCompareOptions } from './text.js';
import type {
  Answer,
  BoxesValue,
  ChoicesValue,
  Comparison,
  ControlType,
  ImageSize,
  KeypointsValue,
  MatchComparison,
  NumberValue,
  PolygonsValue,
  RatingValue,
  SpansValue,
  TextValue,
} from './types.js';

/** Comparison options per control type; a job's QA policy maps onto this. */
export interface CompareOptionsByType {
  choices?: ChoicesCompareOptions;
  labels?: SpansCompareOptions;
  rectangle?: Omit<RectanglesCompareOptions, 'image'>;
  polygon?: PolygonsCompareOptions;
  keypoint?: Omit<KeypointsCompareOptions, 'image'>;
  transcription?: TranscriptionCompareOptions;
  free_text?: FreeTextCompareOptions;
  rating?: NumericCompareOptions;
  number?: NumericCompareOptions;
}

/** What the comparison needs to know of one control of the label config. */
export interface ControlSpec {
  name: string;
  type: ControlType;
  /** choices: several may be picked (Jaccard instead of exact). */
  multiple?: boolean;
  /** textarea: scored by CER/WER (`transcription`, default) or normalized exact match (`free_text`). */
  textMode?: 'transcription' | 'free_text';
  /** Weight in the combined score (default 1). */
  weight?: number;
  /** Options for this control only, over the per-type ones. */
  options?: Record<string, unknown>;
}

/** Any control's comparison: score and pass, plus the type's own figures. */
export type ControlResult =
  | ChoicesComparison
  | MatchComparison
  | RectanglesComparison
  | PolygonsComparison
  | KeypointsComparison
  | TranscriptionComparison
  | NumericComparison
  | Comparison;

export interface ControlComparison {
  name: string;
  type: ControlType;
  weight: number;
  /** The type's own result (F1, IoU, CER… see each compare function). */
  result: ControlResult;
}

export interface AnswerComparison extends Comparison {
  /** Per control, in config order; controls absent from both answers are left out. */
  controls: ControlComparison[];
}

export interface CompareAnswersContext {
  options?: CompareOptionsByType;
  /** Image size in pixels for the geometric controls, when the task payload gives one. */
  image?: ImageSize;
}

/**
 * Compares two whole answers control by control.
 *
 * Combined rule: score = weighted mean of the per-control scores (weights from the config, default
 * 1); pass = every compared control passes its own threshold. A control absent (or null) in both
 * answers is not compared: a conditional control nobody filled is not evidence of agreement. When no
 * control is compared the answers are both empty: score 1, pass.
 */
export function compareAnswers(controls: readonly ControlSpec[], a: Answer | null | undefined, b: Answer | null | undefined, context: CompareAnswersContext = {}): AnswerComparison {
  const out: ControlComparison[] = [];
  let weighted = 0;
  let weights = 0;
  let pass = true;
  for (const control of controls) {
    const va = a?.[control.name] ?? undefined;
    const vb = b?.[control.name] ?? undefined;
    if (va === undefined && vb === undefined) continue;
    const result = compareControl(control, va, vb, context);
    const weight = control.weight ?? 1;
    out.push({ name: control.name, type: control.type, weight, result });
    weighted += weight * result.score;
    weights += weight;
    pass &&= result.pass;
  }
  const score = weights > 0 ? weighted / weights : 1;
  return { score, pass, controls: out };
}

/** One control's values compared by its type. `a` is judged against the reference `b`. */
export function compareControl(control: ControlSpec, a: unknown, b: unknown, context: CompareAnswersContext = {}): ControlResult {
  const by = context.options ?? {};
  const own = control.options ?? {};
  switch (control.type) {
    case 'choices':
      return compareChoices(a as ChoicesValue, b as ChoicesValue, { ...by.choices, multiple: control.multiple ?? by.choices?.multiple ?? false, ...own });
    case 'labels':
      return compareSpans(a as SpansValue, b as SpansValue, { ...by.labels, ...own });
    case 'rectangle':
      return compareRectangles(a as BoxesValue, b as BoxesValue, { ...by.rectangle, ...own, ...(context.image ? { image: context.image } : {}) });
    case 'polygon':
      return comparePolygons(a as PolygonsValue, b as PolygonsValue, { ...by.polygon, ...own });
    case 'keypoint':
      return compareKeypoints(a as KeypointsValue, b as KeypointsValue, { ...by.keypoint, ...own, ...(context.image ? { image: context.image } : {}) });
    case 'textarea':
      return control.textMode === 'free_text'
        ? compareFreeText(a as TextValue, b as TextValue, { ...by.free_text, ...own })
        : compareTranscription(a as TextValue, b as TextValue, { ...by.transcription, ...own });
    case 'rating':
      return compareRating(a as RatingValue, b as RatingValue, { ...by.rating, ...own });
    case 'number':
      return compareNumber(a as NumberValue, b as NumberValue, { ...by.number, ...own });
    default: {
      const never: never = control.type;
      throw new Error(`unknown control type ${String(never)}`);
    }
  }
}
