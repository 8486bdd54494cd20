// The demonstration's simulated world, drawn from one seeded generator so a run can be repeated
// (`--seed`): two vendors' workers (regions, skills, levels, accuracy, speed, habits), the items of
// three jobs with the truth they were generated from, and each worker's answer to an item given
// their accuracy. Pure: no I/O, no clock.

export type Rng = () => number;

/** mulberry32: small, fast and good enough for a simulation. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pick = <T>(rng: Rng, list: readonly T[]): T => list[Math.floor(rng() * list.length)]!;
const between = (rng: Rng, lo: number, hi: number) => lo + (hi - lo) * rng();
/** Standard normal (Box–Muller). */
function normal(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}
function weighted<T>(rng: Rng, list: readonly (readonly [T, number])[]): T {
  const total = list.reduce((n, [, w]) => n + w, 0);
  let r = rng() * total;
  for (const [v, w] of list) if ((r -= w) < 0) return v;
  return list[list.length - 1]![0];
}

// ---- skills and jobs ----

export const SKILLS = { classification: 'image_classification', ner: 'named_entities', boxes: 'bounding_boxes' } as const;
export type JobKind = keyof typeof SKILLS;
export const JOB_KINDS: readonly JobKind[] = ['classification', 'ner', 'boxes'];

// ---- workers ----

export interface Place {
  country: string;
  province: string | null;
  city_tier: number;
  area: 'urban' | 'rural';
  timezone: string;
}

/** Where the two vendors' workers live; the sample pay floors cover each country (the US federal floor too). */
const VILLAGE_PLACES: readonly (readonly [Place, number])[] = [
  [{ country: 'IN', province: 'KA', city_tier: 5, area: 'rural', timezone: 'Asia/Kolkata' }, 5],
  [{ country: 'IN', province: 'KA', city_tier: 4, area: 'rural', timezone: 'Asia/Kolkata' }, 4],
  [{ country: 'IN', province: 'TN', city_tier: 3, area: 'urban', timezone: 'Asia/Kolkata' }, 3],
  [{ country: 'IN', province: 'UP', city_tier: 5, area: 'rural', timezone: 'Asia/Kolkata' }, 4],
  [{ country: 'KE', province: 'KSM', city_tier: 4, area: 'rural', timezone: 'Africa/Nairobi' }, 3],
  [{ country: 'KE', province: 'NKU', city_tier: 3, area: 'urban', timezone: 'Africa/Nairobi' }, 3],
  [{ country: 'NG', province: 'KN', city_tier: 4, area: 'rural', timezone: 'Africa/Lagos' }, 2],
];
const METRO_PLACES: readonly (readonly [Place, number])[] = [
  [{ country: 'IN', province: 'DL', city_tier: 1, area: 'urban', timezone: 'Asia/Kolkata' }, 4],
  [{ country: 'KE', province: 'NBO', city_tier: 1, area: 'urban', timezone: 'Africa/Nairobi' }, 3],
  [{ country: 'PH', province: 'NCR', city_tier: 1, area: 'urban', timezone: 'Asia/Manila' }, 4],
  [{ country: 'PH', province: 'CEB', city_tier: 2, area: 'urban', timezone: 'Asia/Manila' }, 2],
  [{ country: 'NG', province: 'LA', city_tier: 1, area: 'urban', timezone: 'Africa/Lagos' }, 3],
  [{ country: 'BR', province: 'SP', city_tier: 1, area: 'urban', timezone: 'America/Sao_Paulo' }, 2],
  [{ country: 'BR', province: 'BA', city_tier: 3, area: 'urban', timezone: 'America/Bahia' }, 2],
  [{ country: 'US', province: 'MS', city_tier: 3, area: 'rural', timezone: 'America/Chicago' }, 1],
];

/** Habits that QA and the pay floors should notice. */
export type Habit = 'steady' | 'careless' | 'too_fast' | 'slow';

export interface SimWorker {
  index: number;
  vendor: 0 | 1;
  name: string;
  place: Place;
  /** Skill → starting level (1–2 set by the vendor; 3 is a certification by platform ops). */
  skills: Partial<Record<JobKind, number>>;
  /** Probability of answering an item right. */
  accuracy: number;
  /** Multiplies the think times. */
  speed: number;
  habit: Habit;
  /** Accommodation: a longer lease (slow connections). */
  leaseFactor: number | null;
}

const FIRST = ['Asha', 'Ravi', 'Meena', 'Joseph', 'Amina', 'Grace', 'Chidi', 'Ngozi', 'Maria', 'Jose', 'Ana', 'Paulo', 'Lakshmi', 'Arjun', 'Wanjiru', 'Otieno', 'Bea', 'Rafael', 'Kofi', 'Sunita', 'Tunde', 'Imani', 'Luz', 'Dev'];
const LAST = ['K.', 'M.', 'O.', 'S.', 'N.', 'A.', 'R.', 'D.', 'P.', 'T.'];

export function drawWorkers(rng: Rng, count: number): SimWorker[] {
  const workers: SimWorker[] = [];
  for (let i = 0; i < count; i++) {
    // A few of each habit, spread by position so even a small run has one of each.
    const habit: Habit = i % 29 === 7 ? 'careless' : i % 31 === 11 ? 'too_fast' : i % 23 === 5 ? 'slow' : 'steady';
    // Slow workers are village workers in India, where the national floor applies to every tier (the
    // sample floors of Kenya and the Philippines cover their capitals only).
    const vendor: 0 | 1 = habit === 'slow' || rng() < 0.55 ? 0 : 1;
    const place = weighted(rng, habit === 'slow' ? VILLAGE_PLACES.filter(([p]) => p.country === 'IN') : vendor === 0 ? VILLAGE_PLACES : METRO_PLACES);
    const base = Math.min(0.98, Math.max(0.62, 0.86 + 0.07 * normal(rng)));
    const accuracy = habit === 'careless' ? between(rng, 0.25, 0.4) : habit === 'too_fast' ? between(rng, 0.35, 0.5) : base;
    const skills: Partial<Record<JobKind, number>> = {};
    // Everyone classifies; about half also do spans or boxes (those need more training).
    skills.classification = rng() < 0.3 ? 2 : 1;
    if (rng() < 0.55) skills.ner = rng() < 0.35 ? 2 : 1;
    if (rng() < 0.5) skills.boxes = rng() < 0.35 ? 2 : 1;
    // A few certified experts (level 3, by platform ops): the reviewers of appeals.
    if (habit === 'steady' && accuracy > 0.9 && rng() < 0.35) skills.classification = 3;
    workers.push({
      index: i,
      vendor,
      name: `${pick(rng, FIRST)} ${pick(rng, LAST)}`,
      place,
      skills,
      accuracy,
      speed: habit === 'too_fast' ? 0.15 : habit === 'slow' ? between(rng, 4, 6) : Math.exp(0.35 * normal(rng)),
      habit,
      leaseFactor: habit === 'slow' || (place.area === 'rural' && rng() < 0.15) ? 1.5 : null,
    });
  }
  return workers;
}

// ---- items and their truth ----

export const CLASSES = ['car', 'bicycle', 'pedestrian', 'bus', 'empty'] as const;
export const ENTITY_LABELS = ['PER', 'ORG', 'LOC'] as const;
export const BOX_LABELS = ['parcel', 'pallet', 'person'] as const;

export interface Span {
  start: number;
  end: number;
  labels: string[];
}
export interface Box {
  labels: string[];
  x: number;
  y: number;
  width: number;
  height: number;
}

export type Truth = { kind: 'classification'; label: string } | { kind: 'ner'; spans: Span[] } | { kind: 'boxes'; boxes: Box[] };

export interface SimItem {
  externalId: string;
  kind: JobKind;
  data: Record<string, unknown>;
  truth: Truth;
  gold: boolean;
  /** Classification: a model's prediction (right more often when it is confident). */
  prediction?: { label: string; confidence: number };
}

const PEOPLE = ['Asha Rao', 'Joseph Mwangi', 'Maria Santos', 'Chidi Okafor', 'Grace Wanjiru', 'Rafael Lima', 'Sunita Devi'];
const ORGS = ['Acme Vision', 'Kisumu Water Board', 'Metro Rail', 'Lagos Port Authority', 'Green Farms', 'City Hospital'];
const PLACES = ['Bengaluru', 'Nairobi', 'Manila', 'Lagos', 'Salvador', 'Mysuru', 'Cebu', 'Kano'];
const TEMPLATES: readonly string[] = [
  '{PER} joined {ORG} in {LOC} last spring.',
  'In {LOC}, {ORG} opened a new office.',
  '{ORG} says {PER} will visit {LOC} on Monday.',
  '{PER} met {PER} at the {ORG} stand.',
  'Floods in {LOC} delayed {ORG} deliveries.',
];

function sentence(rng: Rng): { text: string; spans: Span[] } {
  const template = pick(rng, TEMPLATES);
  let text = '';
  const spans: Span[] = [];
  for (const part of template.split(/(\{PER\}|\{ORG\}|\{LOC\})/)) {
    if (part === '{PER}' || part === '{ORG}' || part === '{LOC}') {
      const label = part.slice(1, 4);
      const value = pick(rng, label === 'PER' ? PEOPLE : label === 'ORG' ? ORGS : PLACES);
      spans.push({ start: text.length, end: text.length + value.length, labels: [label] });
      text += value;
    } else text += part;
  }
  return { text, spans };
}

const round2 = (n: number) => Math.round(n * 100) / 100;

function boxesFor(rng: Rng): Box[] {
  const n = 1 + Math.floor(rng() * 3);
  const boxes: Box[] = [];
  // Side by side in their own column, so they do not overlap and each has one right match.
  for (let i = 0; i < n; i++) {
    const width = round2(between(rng, 12, 26));
    const height = round2(between(rng, 15, 45));
    boxes.push({ labels: [pick(rng, BOX_LABELS)], x: round2(i * 33 + between(rng, 1, 33 - width - 1)), y: round2(between(rng, 2, 98 - height)), width, height });
  }
  return boxes;
}

export interface ItemCounts {
  classification: number;
  ner: number;
  boxes: number;
  /** Gold items among the classification items (spread evenly through them). */
  gold: number;
}

export function drawItems(rng: Rng, counts: ItemCounts): Record<JobKind, SimItem[]> {
  const classification: SimItem[] = [];
  for (let i = 0; i < counts.classification; i++) {
    const label = pick(rng, CLASSES);
    const confidence = round2(between(rng, 0.4, 0.99));
    const predicted = rng() < confidence ? label : pick(rng, CLASSES.filter((c) => c !== label));
    classification.push({
      externalId: `street-${i}`,
      kind: 'classification',
      data: { image: `https://images.example.org/streets/${i}.jpg` },
      truth: { kind: 'classification', label },
      // Spread through the job (claims take the oldest items first), so gold comes up all along the run.
      gold: Math.floor(((i + 1) * counts.gold) / counts.classification) > Math.floor((i * counts.gold) / counts.classification),
      prediction: { label: predicted, confidence },
    });
  }
  const ner: SimItem[] = [];
  for (let i = 0; i < counts.ner; i++) {
    const { text, spans } = sentence(rng);
    ner.push({ externalId: `news-${i}`, kind: 'ner', data: { text }, truth: { kind: 'ner', spans }, gold: false });
  }
  const boxes: SimItem[] = [];
  for (let i = 0; i < counts.boxes; i++) {
    boxes.push({ externalId: `shelf-${i}`, kind: 'boxes', data: { image: `https://images.example.org/warehouse/${i}.jpg` }, truth: { kind: 'boxes', boxes: boxesFor(rng) }, gold: false });
  }
  return { classification, ner, boxes };
}

// ---- answers ----

/** The answer (keyed by control name, label config v2 shapes) a worker of this accuracy gives. */
export function answerFor(rng: Rng, truth: Truth, accuracy: number): Record<string, unknown> {
  switch (truth.kind) {
    case 'classification': {
      const label = rng() < accuracy ? truth.label : pick(rng, CLASSES.filter((c) => c !== truth.label));
      return { vehicle: { choices: [label] } };
    }
    case 'ner': {
      const spans: Span[] = [];
      for (const s of truth.spans) {
        if (rng() < accuracy) spans.push({ ...s, labels: [...s.labels] });
        else if (rng() < 0.5) spans.push({ ...s, labels: [pick(rng, ENTITY_LABELS.filter((l) => l !== s.labels[0]))] });
        // else: missed
      }
      return { entities: { spans } };
    }
    case 'boxes': {
      const boxes: Box[] = [];
      for (const b of truth.boxes) {
        const jitter = () => round2(0.6 * normal(rng));
        if (rng() < accuracy) {
          boxes.push({ labels: [...b.labels], x: clamp(b.x + jitter()), y: clamp(b.y + jitter()), width: b.width, height: b.height });
        } else if (rng() < 0.5) {
          boxes.push({ labels: [pick(rng, BOX_LABELS.filter((l) => l !== b.labels[0]))], x: b.x, y: b.y, width: b.width, height: b.height });
        }
      }
      return { objects: { boxes: boxes.map((b) => ({ ...b, rotation: 0 })) } };
    }
  }
}
const clamp = (v: number) => Math.min(95, Math.max(0, v));

/** Real think time in ms for one item (compressed: seconds of real work become tenths). */
export function thinkMs(rng: Rng, kind: JobKind, w: SimWorker): number {
  const base = kind === 'classification' ? 250 : kind === 'ner' ? 600 : 800;
  return Math.round(base * w.speed * Math.exp(0.3 * normal(rng)));
}

// ---- scoring against the truth ----

function iou(a: Box, b: Box): number {
  const x = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const y = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  const inter = x * y;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/**
 * Whether an answer (a worker's, or the decided result) is right against the generated truth:
 * classification exactly; spans all found with their labels (boundaries exact); boxes all found with
 * their labels at IoU ≥ 0.5, and nothing extra.
 */
export function isRight(truth: Truth, answer: unknown): boolean {
  const a = (answer ?? {}) as Record<string, Record<string, unknown> | undefined>;
  switch (truth.kind) {
    case 'classification':
      return JSON.stringify(a.vehicle?.choices ?? null) === JSON.stringify([truth.label]);
    case 'ner': {
      const spans = (a.entities?.spans ?? []) as Span[];
      return spans.length === truth.spans.length && truth.spans.every((t) => spans.some((s) => s.start === t.start && s.end === t.end && s.labels?.[0] === t.labels[0]));
    }
    case 'boxes': {
      const boxes = (a.objects?.boxes ?? []) as Box[];
      return boxes.length === truth.boxes.length && truth.boxes.every((t) => boxes.some((b) => b.labels?.[0] === t.labels[0] && iou(b, t) >= 0.5));
    }
  }
}
