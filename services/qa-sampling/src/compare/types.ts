/**
 * Answer value shapes of label config v2, one per control type (the table "Label config v2 and
 * answers" in the coordination notes). Declared here structurally so the comparison core depends on
 * no schema package: a value parsed by the contracts' zod schemas fits these types as it is.
 *
 * Every compare function takes (a, b, options). Where the comparison is asymmetric (precision /
 * recall, CER / WER), `a` is the answer being judged and `b` the reference: for a gold check pass the
 * worker's answer as `a` and the gold as `b`; for agreement between two workers the score is symmetric.
 *
 * Geometry is in percent of the image (0–100): (x, y) is the top-left corner before rotation and
 * `rotation` is degrees clockwise about (x, y), Label Studio's convention.
 */

export interface ChoicesValue {
  choices: string[];
}

export interface Span {
  id?: string;
  /** UTF-16 offset, inclusive. */
  start: number;
  /** UTF-16 offset, exclusive. */
  end: number;
  labels: string[];
  text?: string;
}
export interface SpansValue {
  spans: Span[];
}

export interface Box {
  id?: string;
  labels: string[];
  x: number;
  y: number;
  width: number;
  height: number;
  rotation?: number;
}
export interface BoxesValue {
  boxes: Box[];
}

export interface Polygon {
  id?: string;
  labels: string[];
  points: Array<[number, number]> | number[][];
}
export interface PolygonsValue {
  polygons: Polygon[];
}

export interface Keypoint {
  id?: string;
  labels: string[];
  x: number;
  y: number;
  width?: number;
}
export interface KeypointsValue {
  keypoints: Keypoint[];
}

export interface TextValue {
  text: string[];
}
export interface RatingValue {
  rating: number;
}
export interface NumberValue {
  number: number;
}

export type ControlType = 'choices' | 'labels' | 'rectangle' | 'polygon' | 'keypoint' | 'textarea' | 'rating' | 'number';

export interface ControlValueByType {
  choices: ChoicesValue;
  labels: SpansValue;
  rectangle: BoxesValue;
  polygon: PolygonsValue;
  keypoint: KeypointsValue;
  textarea: TextValue;
  rating: RatingValue;
  number: NumberValue;
}

/** An answer: one value per control name. A control the annotator left empty may be absent. */
export type Answer = Record<string, unknown>;

/** Image size in pixels, from the task payload (`image_width/image_height`) or LS `original_width/height`. */
export interface ImageSize {
  width: number;
  height: number;
}

/**
 * What every comparison returns. `score` is in [0, 1] (1 = the answers agree fully); `pass` is
 * `score >= passScore` of the options used, so a gold check or an agreement check is one call.
 */
export interface Comparison {
  score: number;
  pass: boolean;
}

/** Comparisons of lists of objects (spans, boxes, polygons, keypoints) also count the matches. */
export interface MatchComparison extends Comparison {
  /** Objects of `a` matched one-to-one to objects of `b`. */
  matched: number;
  /** matched / |a| (1 when both are empty): how much of `a` is supported by `b`. */
  precision: number;
  /** matched / |b| (1 when both are empty): how much of `b` is found in `a`. */
  recall: number;
  f1: number;
  /** Pairs as indices [i in a, j in b, similarity] for the matched objects, for evidence and review UIs. */
  pairs: Array<[number, number, number]>;
}
