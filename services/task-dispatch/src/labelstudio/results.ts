import { dataKeyOf, isRegionType, regionKeys, type LabelConfig, type LabelControl, type RegionControlType } from '@fairlabel/contracts';

/**
 * Label Studio's result lists (https://labelstud.io/guide/task_format: `annotations[].result`,
 * `predictions[].result`) to v2 answers and back. A result is `{id, from_name, to_name, type, value}`;
 * the results of one region share its `id` (a per-region control's result carries the region's id).
 * Geometry is in percent of the image in both, so it is copied, never scaled.
 */

export interface LabelStudioResult {
  id?: string;
  from_name: string;
  to_name: string;
  type: string;
  value: Record<string, unknown>;
  original_width?: number;
  original_height?: number;
  image_rotation?: number;
  score?: number;
}

export type ImageSizes = Record<string, { width: number; height: number }>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The result `type` Label Studio writes for a control. */
export function resultTypeOf(c: LabelControl): string {
  switch (c.type) {
    case 'rectangle':
      return c.labels.length ? 'rectanglelabels' : 'rectangle';
    case 'polygon':
      return c.labels.length ? 'polygonlabels' : 'polygon';
    case 'keypoint':
      return c.labels.length ? 'keypointlabels' : 'keypoint';
    default:
      return c.type;
  }
}

/** The result types a control accepts on import (a labelled tool's result may come as the plain tool's). */
const acceptedTypes: Record<LabelControl['type'], string[]> = {
  choices: ['choices'],
  labels: ['labels'],
  rectangle: ['rectanglelabels', 'rectangle'],
  polygon: ['polygonlabels', 'polygon'],
  keypoint: ['keypointlabels', 'keypoint'],
  textarea: ['textarea'],
  rating: ['rating'],
  number: ['number'],
};

/** Result fields that carry meaning here; others are counted as ignored. */
const resultFields = new Set(['id', 'from_name', 'to_name', 'type', 'value', 'original_width', 'original_height', 'score']);
const valueFields: Record<LabelControl['type'], string[]> = {
  choices: ['choices'],
  labels: ['start', 'end', 'text', 'labels'],
  rectangle: ['x', 'y', 'width', 'height', 'rotation', 'rectanglelabels', 'labels'],
  polygon: ['points', 'polygonlabels', 'labels'],
  keypoint: ['x', 'y', 'width', 'keypointlabels', 'labels'],
  textarea: ['text'],
  rating: ['rating'],
  number: ['number'],
};
/** Region geometry Label Studio repeats in a per-region control's value; it is the region's, not the attribute's. */
const geometryFields = new Set(['x', 'y', 'width', 'height', 'rotation', 'points', 'start', 'end', 'text', 'startOffset', 'endOffset']);

export interface FromResults {
  answer: Record<string, unknown>;
  /** Image sizes the results gave (original_width/original_height), by object name. */
  imageSizes: ImageSizes;
  /** Fields not kept, e.g. `result.origin`, `result.value.closed`. */
  ignored: string[];
}

function labelsOf(value: Record<string, unknown>, type: string): unknown {
  return value[type] ?? value.labels ?? [];
}

function plainValueOf(c: LabelControl, value: Record<string, unknown>): Record<string, unknown> {
  switch (c.type) {
    case 'choices':
      return { choices: value.choices };
    case 'textarea':
      return { text: typeof value.text === 'string' ? [value.text] : value.text };
    case 'rating':
      return { rating: value.rating };
    case 'number':
      return { number: value.number };
    default:
      return {};
  }
}

function regionOf(c: LabelControl, r: LabelStudioResult): Record<string, unknown> {
  const v = r.value;
  const common = { ...(typeof r.id === 'string' ? { id: r.id } : {}), labels: labelsOf(v, r.type), ...(typeof r.score === 'number' ? { score: r.score } : {}) };
  switch (c.type) {
    case 'labels':
      return { ...common, start: v.start, end: v.end, ...(typeof v.text === 'string' ? { text: v.text } : {}) };
    case 'rectangle':
      // Label Studio writes `rotation: 0` on every box; only a turned box keeps a rotation.
      return { ...common, x: v.x, y: v.y, width: v.width, height: v.height, ...(v.rotation !== undefined && v.rotation !== 0 ? { rotation: v.rotation } : {}) };
    case 'polygon':
      return { ...common, points: v.points };
    case 'keypoint':
      return { ...common, x: v.x, y: v.y, ...(v.width !== undefined ? { width: v.width } : {}) };
    default:
      return common;
  }
}

/**
 * A v2 answer from one result list, or the reason it has none. The answer is not validated here:
 * the caller checks it against the job's answer schema like any other answer.
 */
export function answerFromResults(config: LabelConfig, result: unknown): FromResults | { error: string } {
  if (!Array.isArray(result)) return { error: '`result` must be a list' };
  const controls = new Map(config.controls.map((c) => [c.name, c]));
  const answer: Record<string, Record<string, unknown>> = {};
  const imageSizes: ImageSizes = {};
  const ignored = new Set<string>();
  const regionsById = new Map<string, { control: LabelControl; region: Record<string, unknown> }>();
  const attributes: { index: number; control: LabelControl; r: LabelStudioResult }[] = [];

  for (let i = 0; i < result.length; i++) {
    const r = result[i] as Partial<LabelStudioResult> & Record<string, unknown>;
    if (!isObject(r)) return { error: `result.${i}: not an object` };
    if (r.type === 'relation') return { error: `result.${i}: relation results are not supported (no Relations control)` };
    if (typeof r.from_name !== 'string' || typeof r.type !== 'string' || !isObject(r.value)) return { error: `result.${i}: needs from_name, type and a value object` };
    const c = controls.get(r.from_name);
    if (!c) return { error: `result.${i}: from_name "${r.from_name}" is not a control of this job (controls: ${[...controls.keys()].join(', ')})` };
    if (r.to_name !== undefined && r.to_name !== c.to_name) return { error: `result.${i}: to_name "${String(r.to_name)}" is not the object control "${c.name}" labels ("${c.to_name}")` };
    if (!acceptedTypes[c.type].includes(r.type)) return { error: `result.${i}: type "${r.type}" does not fit control "${c.name}" (${acceptedTypes[c.type].join(' or ')})` };
    // image_rotation 0 says the image was not turned: nothing to keep.
    for (const key of Object.keys(r)) if (!resultFields.has(key) && !(key === 'image_rotation' && r.image_rotation === 0)) ignored.add(`result.${key}`);
    const perRegion = 'per_region' in c && c.per_region;
    for (const key of Object.keys(r.value)) if (!valueFields[c.type].includes(key) && !(perRegion && geometryFields.has(key))) ignored.add(`result.value.${key}`);
    if (!perRegion && !isRegionType(c.type) && r.score !== undefined) ignored.add('result.score');
    if (typeof r.original_width === 'number' && typeof r.original_height === 'number' && !imageSizes[c.to_name]) {
      imageSizes[c.to_name] = { width: r.original_width, height: r.original_height };
    }
    const res = r as LabelStudioResult;
    if (perRegion) {
      attributes.push({ index: i, control: c, r: res });
    } else if (isRegionType(c.type)) {
      const key = regionKeys[c.type as RegionControlType];
      const region = regionOf(c, res);
      const holder = (answer[c.name] ??= { [key]: [] });
      (holder[key] as unknown[]).push(region);
      if (typeof res.id === 'string') regionsById.set(res.id, { control: c, region });
    } else {
      const value = plainValueOf(c, res.value);
      const existing = answer[c.name];
      if (!existing) answer[c.name] = value;
      else if (c.type === 'choices' && Array.isArray(existing.choices) && Array.isArray(value.choices)) existing.choices = [...existing.choices, ...value.choices];
      else if (c.type === 'textarea' && Array.isArray(existing.text) && Array.isArray(value.text)) existing.text = [...existing.text, ...value.text];
      else return { error: `result.${i}: a second result for control "${c.name}"` };
    }
  }
  for (const { index, control, r } of attributes) {
    const target = typeof r.id === 'string' ? regionsById.get(r.id) : undefined;
    if (!target) return { error: `result.${index}: per-region control "${control.name}" refers to no region${typeof r.id === 'string' ? ` with id "${r.id}"` : ''}` };
    if (target.control.to_name !== control.to_name) return { error: `result.${index}: region "${r.id}" is on "${target.control.to_name}", control "${control.name}" labels "${control.to_name}"` };
    const attrs = ((target.region.attributes as Record<string, unknown> | undefined) ??= {});
    (target.region as { attributes: Record<string, unknown> }).attributes = attrs;
    if (attrs[control.name]) return { error: `result.${index}: a second "${control.name}" for region "${r.id}"` };
    attrs[control.name] = plainValueOf(control, r.value);
  }
  return { answer, imageSizes, ignored: [...ignored] };
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface ToResultsOptions {
  /** Prefix of the ids given to regions and classifications that have none; unique per answer in a task. */
  idPrefix: string;
  data: Record<string, unknown> | null;
  imageSizes: ImageSizes;
}

function geometryValue(c: LabelControl, region: Record<string, unknown>, text: (start: number, end: number) => string | undefined): Record<string, unknown> {
  switch (c.type) {
    case 'labels': {
      const start = region.start as number;
      const end = region.end as number;
      const t = typeof region.text === 'string' ? region.text : text(start, end);
      return { start, end, ...(t !== undefined ? { text: t } : {}) };
    }
    case 'rectangle':
      return { x: region.x, y: region.y, width: region.width, height: region.height, rotation: region.rotation ?? 0 };
    case 'polygon':
      return { points: region.points };
    case 'keypoint':
      return { x: region.x, y: region.y, ...(region.width !== undefined ? { width: region.width } : {}) };
    default:
      return {};
  }
}

/** Label Studio results for a v2 answer: the job's own control and object names, region ids, rotation, percent, span text, and image sizes when known. */
export function answerToResults(config: LabelConfig, answer: unknown, opts: ToResultsOptions): LabelStudioResult[] {
  if (!isObject(answer)) return [];
  const out: LabelStudioResult[] = [];
  let n = 0;
  const nextId = () => `${opts.idPrefix}${++n}`;
  const objects = new Map(config.objects.map((o) => [o.name, o]));
  const controls = new Map(config.controls.map((c) => [c.name, c]));
  const sizeOf = (objectName: string) => {
    const o = objects.get(objectName);
    if (opts.imageSizes[objectName]) return opts.imageSizes[objectName];
    if (o?.width !== undefined && o.height !== undefined) return { width: o.width, height: o.height };
    const w = opts.data?.image_width;
    const h = opts.data?.image_height;
    return o?.type === 'image' && typeof w === 'number' && typeof h === 'number' ? { width: w, height: h } : undefined;
  };
  const textOf = (objectName: string) => {
    const o = objects.get(objectName);
    const t = o ? opts.data?.[dataKeyOf(o)] : undefined;
    return (start: number, end: number) => (typeof t === 'string' ? t.slice(start, end) : undefined);
  };
  for (const c of config.controls) {
    const value = answer[c.name];
    if (!isObject(value) || ('per_region' in c && c.per_region)) continue;
    const base = { from_name: c.name, to_name: c.to_name, type: resultTypeOf(c) };
    if (!isRegionType(c.type)) {
      out.push({ id: nextId(), ...base, value: { ...value } });
      continue;
    }
    const size = c.type === 'labels' ? undefined : sizeOf(c.to_name);
    const sized = size ? { original_width: size.width, original_height: size.height, image_rotation: 0 } : {};
    const regions = value[regionKeys[c.type as RegionControlType]];
    for (const region of Array.isArray(regions) ? (regions as Record<string, unknown>[]) : []) {
      const id = typeof region.id === 'string' ? region.id : nextId();
      const geometry = geometryValue(c, region, textOf(c.to_name));
      const labelKey = c.type === 'labels' ? 'labels' : resultTypeOf(c);
      const labels = Array.isArray(region.labels) ? region.labels : [];
      out.push({
        id,
        ...base,
        ...sized,
        value: { ...geometry, ...(labelKey.endsWith('labels') ? { [labelKey]: labels } : {}) },
        ...(typeof region.score === 'number' ? { score: region.score } : {}),
      });
      // A per-region control's result shares the region's id and repeats its geometry, as Label Studio writes it.
      for (const [name, attribute] of Object.entries(isObject(region.attributes) ? region.attributes : {})) {
        const ac = controls.get(name);
        if (!ac || !isObject(attribute)) continue;
        out.push({ id, from_name: ac.name, to_name: ac.to_name, type: resultTypeOf(ac), ...sized, value: { ...geometry, ...attribute } });
      }
    }
  }
  return out;
}
