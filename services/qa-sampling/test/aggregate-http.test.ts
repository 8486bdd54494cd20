import { PassThrough } from 'node:stream';
import { describe, expect } from 'vitest';
import type { AggregateItemLine, AggregateSummaryLine, AggregateWorkerLine } from '@fairlabel/contracts';
import { sql } from '@fairlabel/db';
import { buildTestApp, expectError, integrationTest } from '@fairlabel/testing';
import { aggregateRoutes, qaSamplingRoutes } from '../src/index.js';
import { StreamingAggregator, type AggregateMethod } from '../src/stream/aggregator.js';

/** Limits small enough to cross with a few lines, on an app of their own. */
const SMALL = { maxRows: 6, maxLabels: 3, maxWorkers: 4, maxPosteriorCells: 10, maxConfusionCells: 1000 };

const test = integrationTest({ app: [qaSamplingRoutes] }).extend('smallApp', { scope: 'file' }, async ({ env }, { onCleanup }) => {
  const app = await buildTestApp(env, [{ name: 'qa-aggregate-small', plugin: async (a) => a.register(aggregateRoutes(SMALL)) }]);
  onCleanup(() => app.close());
  return app;
});

interface Row {
  item: string;
  worker: string;
  label: string;
  gold?: string;
}

const ndjson = (rows: Row[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const csv = (rows: Row[]) => 'item,worker,label,gold\n' + rows.map((r) => [r.item, r.worker, r.label, r.gold ?? ''].join(',')).join('\n') + '\n';
const NDJSON = { 'content-type': 'application/x-ndjson' };
const CSV = { 'content-type': 'text/csv' };

interface Parsed {
  summary: AggregateSummaryLine;
  items: Map<string, AggregateItemLine>;
  workers: Map<string, AggregateWorkerLine>;
  order: string[];
}

function parseNdjson(body: string): Parsed {
  const lines = body.trimEnd().split('\n').map((l) => JSON.parse(l) as AggregateSummaryLine | AggregateItemLine | AggregateWorkerLine);
  const [summary, ...rest] = lines;
  expect(summary!.type).toBe('summary');
  return {
    summary: summary as AggregateSummaryLine,
    items: new Map(rest.filter((l): l is AggregateItemLine => l.type === 'item').map((l) => [l.item, l])),
    workers: new Map(rest.filter((l): l is AggregateWorkerLine => l.type === 'worker').map((l) => [l.worker, l])),
    order: rest.map((l) => l.type),
  };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const logit = (p: number) => Math.log(p / (1 - p));
/** The default accuracy prior: 6 pseudo-answers at 0.7. */
const smoothed = (correct: number, total: number) => (correct + 4.2) / (total + 6);

/**
 * Four items, three workers, labels x and y (interned in that order), one gold item:
 *   a: w1 x, w2 x, w3 y      b: w1 y, w2 y, w3 y      c: w1 x, w2 y (a tie)      d (gold x): w1 x, w3 y
 */
const SMALL_SET: Row[] = [
  { item: 'a', worker: 'w1', label: 'x' },
  { item: 'a', worker: 'w2', label: 'x' },
  { item: 'a', worker: 'w3', label: 'y' },
  { item: 'b', worker: 'w1', label: 'y' },
  { item: 'b', worker: 'w2', label: 'y' },
  { item: 'b', worker: 'w3', label: 'y' },
  { item: 'c', worker: 'w1', label: 'x' },
  { item: 'c', worker: 'w2', label: 'y' },
  { item: 'd', worker: 'w1', label: 'x', gold: 'x' },
  { item: 'd', worker: 'w3', label: 'y', gold: 'x' },
];

/**
 * Two careful workers (A, B) and three who always give the other label (F1–F3), on 6 gold items and
 * 10 others, truth alternating x / y. Majority vote of everyone is wrong on every item; gold shows
 * the F workers for what they are.
 */
function flipperSet(): { rows: Row[]; truth: Map<string, string> } {
  const rows: Row[] = [];
  const truth = new Map<string, string>();
  const other = (l: string) => (l === 'x' ? 'y' : 'x');
  for (let i = 0; i < 16; i++) {
    const gold = i < 6;
    const item = gold ? `g${i}` : `n${i - 6}`;
    const t = i % 2 === 0 ? 'x' : 'y';
    truth.set(item, t);
    for (const w of ['A', 'B']) rows.push({ item, worker: w, label: t, ...(gold ? { gold: t } : {}) });
    for (const w of ['F1', 'F2', 'F3']) rows.push({ item, worker: w, label: other(t), ...(gold ? { gold: t } : {}) });
  }
  return { rows, truth };
}

/** What the pure aggregator gives for the same rows, rounded as the route rounds. */
function inProcess(rows: Row[], method: AggregateMethod, untrustedBelow = 0.5) {
  const agg = new StreamingAggregator();
  for (const r of rows) agg.push(r);
  const out = agg.run(method, { trust: { minGold: 5, untrustedBelow }, dawidSkene: { maxIterations: 100 } });
  const r6 = (x: number) => Math.round(x * 1e6) / 1e6;
  return {
    items: [...out.itemOutcomes()].map((i) => ({ type: 'item', item: i.item, label: i.label, confidence: r6(i.confidence), agreement: r6(i.agreement), answers: i.answers, gold: i.gold })),
    workers: [...out.workerOutcomes()].map((w) => ({
      type: 'worker',
      worker: w.worker,
      accuracy: r6(w.accuracy),
      answers: w.answers,
      gold_total: w.goldTotal,
      gold_correct: w.goldCorrect,
      trusted: w.trusted,
    })),
    iterations: out.iterations ?? null,
  };
}

describe('POST /v1/qa/aggregate: known answers', () => {
  test('majority vote on a hand-checked set: labels, vote shares, agreement, gold, worker accuracy', async ({ app, client }) => {
    const res = await app.inject({ method: 'POST', url: '/v1/qa/aggregate?method=majority', headers: { ...client.auth, ...NDJSON }, payload: ndjson(SMALL_SET) });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    const out = parseNdjson(res.body);
    expect(out.summary).toEqual({
      type: 'summary',
      method: 'majority',
      rows: 10,
      items: 4,
      workers: 3,
      labels: ['x', 'y'],
      gold_items: 1,
      gold_conflicts: 0,
      duplicate_answers: 0,
      iterations: null,
      converged: null,
    });
    // The summary, then every worker, then every item, each in first-seen order.
    expect(out.order).toEqual(['worker', 'worker', 'worker', 'item', 'item', 'item', 'item']);
    expect([...out.items.keys()]).toEqual(['a', 'b', 'c', 'd']);
    expect(out.items.get('a')).toEqual({ type: 'item', item: 'a', label: 'x', confidence: 0.666667, agreement: 0.666667, answers: 3, gold: null });
    expect(out.items.get('b')).toEqual({ type: 'item', item: 'b', label: 'y', confidence: 1, agreement: 1, answers: 3, gold: null });
    // A tie goes to the first label seen (x), with half the votes.
    expect(out.items.get('c')).toEqual({ type: 'item', item: 'c', label: 'x', confidence: 0.5, agreement: 0.5, answers: 2, gold: null });
    // A gold item is decided by its gold label.
    expect(out.items.get('d')).toEqual({ type: 'item', item: 'd', label: 'x', confidence: 1, agreement: 0.5, answers: 2, gold: 'x' });
    // Fewer than min_gold gold answers: accuracy is smoothed over gold plus agreement with the results.
    // w1: gold 1/1, agrees on a, b, c → 4/4.  w2: agrees on a, b, not c → 2/3.  w3: gold 0/1, agrees on b only → 1/3.
    expect(out.workers.get('w1')).toEqual({ type: 'worker', worker: 'w1', accuracy: 0.82, answers: 4, gold_total: 1, gold_correct: 1, trusted: true });
    expect(out.workers.get('w2')!.accuracy).toBeCloseTo(smoothed(2, 3), 6);
    expect(out.workers.get('w3')).toMatchObject({ answers: 3, gold_total: 1, gold_correct: 0, trusted: true });
    expect(out.workers.get('w3')!.accuracy).toBeCloseTo(smoothed(1, 3), 6);
  });

  test('accuracy-weighted vote on the same set: log-odds weights, posterior confidences', async ({ app, client }) => {
    const res = await app.inject({ method: 'POST', url: '/v1/qa/aggregate?method=accuracy_weighted', headers: { ...client.auth, ...NDJSON }, payload: ndjson(SMALL_SET) });
    expect(res.statusCode, res.body).toBe(200);
    const out = parseNdjson(res.body);
    // Weights log(p / (1 − p)) (K = 2) from the accuracies against the majority vote; the decisions
    // do not change, so neither do the weights on the second round.
    const [w1, w2, w3] = [logit(smoothed(4, 4)), logit(smoothed(2, 3)), logit(smoothed(1, 3))];
    expect(out.items.get('a')).toMatchObject({ label: 'x', agreement: 0.666667 });
    expect(out.items.get('a')!.confidence).toBeCloseTo(sigmoid(w1 + w2 - w3), 5);
    expect(out.items.get('b')!.label).toBe('y');
    expect(out.items.get('b')!.confidence).toBeCloseTo(sigmoid(w1 + w2 + w3), 5);
    // The tie is broken by weight: w1 outweighs w2.
    expect(out.items.get('c')!.label).toBe('x');
    expect(out.items.get('c')!.confidence).toBeCloseTo(sigmoid(w1 - w2), 5);
    expect(out.items.get('d')).toMatchObject({ label: 'x', confidence: 1, gold: 'x' });
    expect(out.workers.get('w1')!.accuracy).toBeCloseTo(0.82, 6);
    expect(out.workers.get('w2')!.accuracy).toBeCloseTo(smoothed(2, 3), 6);
    expect(out.workers.get('w3')!.accuracy).toBeCloseTo(smoothed(1, 3), 6);
  });

  test('gold anchors worker accuracy: workers who fail gold lose the vote under every method', async ({ app, client }) => {
    const { rows, truth } = flipperSet();
    const nonGold = [...truth.keys()].filter((i) => i.startsWith('n'));
    const post = async (query: string) => {
      const res = await app.inject({ method: 'POST', url: `/v1/qa/aggregate?${query}`, headers: { ...client.auth, ...NDJSON }, payload: ndjson(rows) });
      expect(res.statusCode, res.body).toBe(200);
      return parseNdjson(res.body);
    };
    const wrongOn = (out: Parsed) => nonGold.filter((i) => out.items.get(i)!.label !== truth.get(i));

    // Everyone votes (untrusted_below=0): three against two, majority is wrong on every item.
    const naive = await post('method=majority&untrusted_below=0');
    expect(wrongOn(naive)).toEqual(nonGold);
    expect(nonGold.map((i) => naive.items.get(i)!.confidence)).toEqual(nonGold.map(() => 0.6));

    // By default 6 of 6 gold answers wrong excludes F1–F3: (0 + 4.2) / (6 + 6) = 0.35 < 0.5.
    const anchored = await post('method=majority');
    expect(wrongOn(anchored)).toEqual([]);
    expect(nonGold.map((i) => anchored.items.get(i)!.confidence)).toEqual(nonGold.map(() => 1));
    expect(anchored.workers.get('F1')).toEqual({ type: 'worker', worker: 'F1', accuracy: 0.35, answers: 16, gold_total: 6, gold_correct: 0, trusted: false });
    // With min_gold gold answers, accuracy is gold alone: (6 + 4.2) / 12 = 0.85.
    expect(anchored.workers.get('A')).toEqual({ type: 'worker', worker: 'A', accuracy: 0.85, answers: 16, gold_total: 6, gold_correct: 6, trusted: true });

    // The weighted vote gives a worker no better than chance no weight at all: only A and B count.
    const weighted = await post('method=accuracy_weighted&untrusted_below=0');
    expect(wrongOn(weighted)).toEqual([]);
    for (const i of nonGold) expect(weighted.items.get(i)!.confidence).toBeCloseTo(sigmoid(2 * logit(0.85)), 5);

    // The EM methods learn from gold that F1–F3 answer the other label, and read their answers that way.
    for (const method of ['one_coin', 'dawid_skene'] as const) {
      const out = await post(`method=${method}&untrusted_below=0`);
      expect(wrongOn(out), method).toEqual([]);
      for (const i of nonGold) expect(out.items.get(i)!.confidence, `${method} ${i}`).toBeGreaterThan(0.99);
      expect(out.workers.get('A')!.accuracy, method).toBeGreaterThan(0.8);
      expect(out.workers.get('F2')!.accuracy, method).toBeLessThan(0.2);
      expect(out.summary).toMatchObject({ method, rows: 80, items: 16, workers: 5, gold_items: 6, converged: true });
      expect(out.summary.iterations).toBeGreaterThan(0);
      // The route returns exactly what the aggregator computes in process.
      const expected = inProcess(rows, method, 0);
      expect([...out.items.values()]).toEqual(expected.items);
      expect([...out.workers.values()]).toEqual(expected.workers);
      expect(out.summary.iterations).toBe(expected.iterations);
    }
  });

  test('CSV in, NDJSON or CSV out: the same results as NDJSON in', async ({ app, vendor }) => {
    const { rows } = flipperSet();
    const fromNdjson = await app.inject({ method: 'POST', url: '/v1/qa/aggregate?method=dawid_skene', headers: { ...vendor.auth, ...NDJSON }, payload: ndjson(rows) });
    const fromCsv = await app.inject({ method: 'POST', url: '/v1/qa/aggregate?method=dawid_skene', headers: { ...vendor.auth, ...CSV }, payload: csv(rows) });
    expect(fromCsv.statusCode, fromCsv.body).toBe(200);
    expect(fromCsv.body).toBe(fromNdjson.body);

    // Accept: text/csv (or format=csv) answers CSV: a header, one row per worker, then per item.
    const asCsv = await app.inject({ method: 'POST', url: '/v1/qa/aggregate?method=majority', headers: { ...vendor.auth, ...CSV, accept: 'text/csv' }, payload: csv(SMALL_SET) });
    expect(asCsv.statusCode, asCsv.body).toBe(200);
    expect(asCsv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(asCsv.headers['x-aggregate-rows']).toBe('10');
    expect(asCsv.body.split('\r\n')).toEqual([
      'type,id,label,confidence,agreement,answers,gold,accuracy,gold_total,gold_correct,trusted',
      'worker,w1,,,,4,,0.82,1,1,true',
      `worker,w2,,,,3,,${Math.round(smoothed(2, 3) * 1e6) / 1e6},0,0,true`,
      `worker,w3,,,,3,,${Math.round(smoothed(1, 3) * 1e6) / 1e6},1,0,true`,
      'item,a,x,0.666667,0.666667,3,,,,,',
      'item,b,y,1,1,3,,,,,',
      'item,c,x,0.5,0.5,2,,,,,',
      'item,d,x,1,0.5,2,x,,,,',
      '',
    ]);
    const byQuery = await app.inject({ method: 'POST', url: '/v1/qa/aggregate?method=majority&format=csv', headers: { ...vendor.auth, ...NDJSON }, payload: ndjson(SMALL_SET) });
    expect(byQuery.body).toBe(asCsv.body);
  });

  test('an MTurk-style CSV: named columns, extra columns, quoted fields, CRLF, a BOM, numeric ids in NDJSON', async ({ app, client }) => {
    const mturk =
      '\uFEFFHITId,AssignmentId,WorkerId,Answer.sentiment,Gold\r\n' +
      'H1,A1,W1,"Positive, mostly",\r\n' +
      'H1,A2,W2,"Positive, mostly",\r\n' +
      'H1,A3,W3,Negative,\r\n' +
      '"H,2",A4,W1,Negative,Negative\r\n' +
      '"H,2",A5,W2,"say ""no""",Negative\r\n';
    const res = await app.inject({
      method: 'POST',
      url: '/v1/qa/aggregate?method=majority&item_column=HITId&worker_column=WorkerId&label_column=Answer.sentiment&gold_column=Gold&format=csv',
      headers: { ...client.auth, 'content-type': 'text/csv; charset=utf-8' },
      payload: mturk,
    });
    expect(res.statusCode, res.body).toBe(200);
    const lines = res.body.split('\r\n');
    expect(lines).toContain('item,H1,"Positive, mostly",0.666667,0.666667,3,,,,,');
    expect(lines).toContain('item,"H,2",Negative,1,0.5,2,Negative,,,,');

    // Label Studio exports number their tasks and annotators: numeric ids are read as their text.
    const numeric = '{"task":17,"annotator":3,"choice":"Cat"}\n{"task":17,"annotator":4,"choice":"Cat"}\n{"task":18,"annotator":3,"choice":true}\n';
    const ls = await app.inject({
      method: 'POST',
      url: '/v1/qa/aggregate?method=majority&item_column=task&worker_column=annotator&label_column=choice',
      headers: { ...client.auth, ...NDJSON },
      payload: numeric,
    });
    expect(ls.statusCode, ls.body).toBe(200);
    const out = parseNdjson(ls.body);
    expect([...out.items.values()].map((i) => [i.item, i.label])).toEqual([
      ['17', 'Cat'],
      ['18', 'true'],
    ]);
    expect([...out.workers.keys()]).toEqual(['3', '4']);
  });

  test('repeated answers and conflicting gold are counted in the summary', async ({ app, client }) => {
    const rows: Row[] = [
      { item: 'a', worker: 'w1', label: 'x', gold: 'x' },
      { item: 'a', worker: 'w1', label: 'x' },
      { item: 'a', worker: 'w2', label: 'y', gold: 'y' },
    ];
    const res = await app.inject({ method: 'POST', url: '/v1/qa/aggregate?method=majority', headers: { ...client.auth, ...NDJSON }, payload: ndjson(rows) });
    expect(parseNdjson(res.body).summary).toMatchObject({ rows: 3, items: 1, duplicate_answers: 1, gold_conflicts: 1, gold_items: 1 });
  });
});

describe('POST /v1/qa/aggregate: bad input', () => {
  test('a malformed NDJSON line is a 400 naming its line', async ({ app, client }) => {
    const body = '{"item":"a","worker":"w","label":"x"}\n\n{"item":"b","worker":"w",\n{"item":"c","worker":"w","label":"x"}\n';
    const err = expectError(await app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: { ...client.auth, ...NDJSON }, payload: body }), 400, 'malformed_body');
    expect(err.message).toMatch(/^line 3: /);
    expect(err.details).toEqual([{ path: 'line 3', line: 3, message: expect.stringContaining('not valid JSON') }]);
  });

  test('a row without a field, with an empty or non-scalar field, or not an object is a 400 invalid_row naming its line', async ({ app, client }) => {
    const cases: [string, number, RegExp][] = [
      ['{"item":"a","worker":"w","label":"x"}\n{"item":"b","label":"x"}\n', 2, /missing "worker"/],
      ['{"item":"a","worker":"w","label":""}\n', 1, /"label" is empty/],
      ['{"item":"a","worker":"w","label":"x"}\n{"item":"a","worker":"v","label":["x"]}\n', 2, /"label" must be a string, number or boolean, not an array/],
      ['{"item":"a","worker":"w","label":"x"}\n\n\n[1,2]\n', 4, /expected an object/],
      [`{"item":"${'i'.repeat(513)}","worker":"w","label":"x"}\n`, 1, /longer than 512/],
    ];
    for (const [body, line, message] of cases) {
      const err = expectError(await app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: { ...client.auth, ...NDJSON }, payload: body }), 400, 'invalid_row');
      expect(err.message).toMatch(message);
      expect(err.details).toEqual([{ path: `line ${line}`, line, message: expect.any(String) }]);
    }
  });

  test('CSV: a header without the columns, a short row, an unclosed quote', async ({ app, client }) => {
    const header = expectError(await app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: { ...client.auth, ...CSV }, payload: 'item,annotator,label\na,w,x\n' }), 400, 'invalid_csv_header');
    expect(header.message).toMatch(/no column "worker"/);
    expect(header.details).toEqual([{ path: 'line 1', line: 1, message: 'missing worker' }]);

    const short = expectError(await app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: { ...client.auth, ...CSV }, payload: 'item,worker,label\na,w,x\nb,w\n' }), 400, 'invalid_row');
    expect(short.details).toEqual([{ path: 'line 3', line: 3, message: 'has 2 fields: no "label" column' }]);

    const quote = expectError(
      await app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: { ...client.auth, ...CSV }, payload: 'item,worker,label\na,w,x\nb,w,x\n"c,w,x\n' }),
      400,
      'malformed_body',
    );
    expect(quote.message).toMatch(/CSV cannot be parsed/);
    expect(quote.details[0]).toMatchObject({ line: 4 });
  });

  test('an empty body, a body of blank lines, a CSV with only its header: 400 empty_body', async ({ app, client }) => {
    expectError(await app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: { ...client.auth, ...NDJSON } }), 400, 'empty_body');
    expectError(await app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: { ...client.auth, ...NDJSON }, payload: '' }), 400, 'empty_body');
    expectError(await app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: { ...client.auth, ...NDJSON }, payload: '\n \n\r\n' }), 400, 'empty_body');
    expectError(await app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: { ...client.auth, ...CSV }, payload: 'item,worker,label\n' }), 400, 'empty_body');
    expectError(await app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: { ...client.auth, ...CSV }, payload: '' }), 400, 'empty_body');
  });

  test('another content type is a 415 that says what to send; a bad query a 400', async ({ app, client }) => {
    for (const type of ['application/json', 'text/plain', 'multipart/form-data; boundary=x']) {
      const err = expectError(await app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: { ...client.auth, 'content-type': type }, payload: ndjson(SMALL_SET) }), 415, 'unsupported_media_type');
      expect(err.message).toMatch(/application\/x-ndjson .* text\/csv/);
    }
    const bare = await app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: client.auth, payload: Buffer.from(ndjson(SMALL_SET)) });
    expectError(bare, 415, 'unsupported_media_type');
    const err = expectError(await app.inject({ method: 'POST', url: '/v1/qa/aggregate?method=glad', headers: { ...client.auth, ...NDJSON }, payload: ndjson(SMALL_SET) }), 400, 'validation_failed');
    expect(err.details[0]).toMatchObject({ path: 'querystring.method' });
    expectError(await app.inject({ method: 'POST', url: '/v1/qa/aggregate?untrusted_below=2', headers: { ...client.auth, ...NDJSON }, payload: ndjson(SMALL_SET) }), 400, 'validation_failed');
  });

  test('beyond the limits: 413 too_many_rows, 400 too_many_labels / too_many_workers, 422 too_large_for_method, each at its line', async ({ smallApp, client }) => {
    const rows = (n: number, f: (i: number) => Row) => ndjson(Array.from({ length: n }, (_, i) => f(i)));
    const post = (body: string, method = 'majority') => smallApp.inject({ method: 'POST', url: `/v1/qa/aggregate?method=${method}`, headers: { ...client.auth, ...NDJSON }, payload: body });

    // 6 rows are allowed; the 7th is refused.
    expect((await post(rows(6, (i) => ({ item: `i${i}`, worker: 'w', label: 'x' })))).statusCode).toBe(200);
    const tooMany = expectError(await post(rows(9, (i) => ({ item: `i${i}`, worker: 'w', label: 'x' }))), 413, 'too_many_rows');
    expect(tooMany.details).toEqual([{ path: 'line 7', line: 7, message: expect.any(String) }]);

    const labels = expectError(await post(rows(5, (i) => ({ item: 'a', worker: `w${i}`, label: `l${i}` }))), 400, 'too_many_labels');
    expect(labels.details[0]).toMatchObject({ line: 4 });
    // A gold label counts as a label too.
    const goldLabel = expectError(await post(rows(2, (i) => ({ item: 'a', worker: `w${i}`, label: 'x', gold: ['y', 'z'][i]! })) + '{"item":"b","worker":"w","label":"q"}\n'), 400, 'too_many_labels');
    expect(goldLabel.details[0]).toMatchObject({ line: 3 });

    const workers = expectError(await post(rows(6, (i) => ({ item: 'a', worker: `w${i}`, label: 'x' }))), 400, 'too_many_workers');
    expect(workers.details[0]).toMatchObject({ line: 5 });

    // Dawid–Skene here stops at items × labels > 10: the 6th item of 2 labels is fine for majority, not for EM.
    const six = rows(6, (i) => ({ item: `i${i}`, worker: 'w', label: i % 2 ? 'x' : 'y' }));
    expect((await post(six, 'majority')).statusCode).toBe(200);
    const em = expectError(await post(six, 'dawid_skene'), 422, 'too_large_for_method');
    expect(em.details[0]).toMatchObject({ line: 6 });
  });
});

describe('POST /v1/qa/aggregate: who may call it', () => {
  test('clients, vendors, ops and admin may; workers and finance may not; a key is required', async ({ app, seed, client, vendor, worker, ops, admin, finance }) => {
    const body = ndjson(SMALL_SET);
    const post = (headers: Record<string, string>) => app.inject({ method: 'POST', url: '/v1/qa/aggregate?method=majority', headers: { ...headers, ...NDJSON }, payload: body });
    const outboxBefore = await sql<{ n: string }>`SELECT count(*)::text AS n FROM outbox`.execute(app.deps.db);
    const answers: string[] = [];
    for (const actor of [client, vendor, ops, admin]) {
      const res = await post(actor.auth);
      expect(res.statusCode, res.body).toBe(200);
      answers.push(res.body);
    }
    // It reads no tenant data: the answer depends on the body alone, whoever asks.
    const other = await seed.client();
    answers.push((await post(other.auth)).body);
    expect(new Set(answers).size).toBe(1);
    // ...and writes none: no event, nothing to audit.
    expect((await sql<{ n: string }>`SELECT count(*)::text AS n FROM outbox`.execute(app.deps.db)).rows).toEqual(outboxBefore.rows);

    for (const actor of [worker, finance]) {
      const err = expectError(await post(actor.auth), 403, 'forbidden');
      expect(err.message).toMatch(/client, vendor, ops, admin/);
    }
    expectError(await post({}), 401, 'unauthorized');
    expectError(await post({ authorization: 'Bearer fl_notakey' }), 401, 'unauthorized');
    // Refused before the body is looked at: an unauthenticated wrong content type is still a 401.
    expectError(await app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: { 'content-type': 'application/json' }, payload: '{}' }), 401, 'unauthorized');
  });
});

describe('POST /v1/qa/aggregate: streaming', () => {
  test('the body is parsed as it arrives: a bad line is answered while the rest is still being sent', async ({ app, client }) => {
    const body = new PassThrough();
    const pending = app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: { ...client.auth, ...NDJSON }, payload: body });
    body.write('{"item":"a","worker":"w","label":"x"}\n');
    body.write('{"item":"a","worker":"v","label":"x"}\nnot json\n');
    // The body is never ended: the answer can only come from parsing it line by line.
    const err = expectError(await pending, 400, 'malformed_body');
    expect(err.details).toEqual([{ path: 'line 3', line: 3, message: expect.any(String) }]);
    body.destroy();
  });

  test('one aggregation at a time per process: a second is a 429 with Retry-After until the first is done', async ({ app, client, vendor }) => {
    const second = () => app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: { ...vendor.auth, ...NDJSON }, payload: ndjson(SMALL_SET) });
    // The first request must hold the slot when the second arrives. Started first, it can still be
    // overtaken (a CI run saw it: its key lookup went to the database while the vendor's key was
    // cached), and then the second's aggregation is the one running and the first is refused. A first
    // request that ends before its body does was refused (429): start again.
    let body!: PassThrough;
    let first!: ReturnType<typeof second>;
    for (let attempt = 1; ; attempt++) {
      body = new PassThrough();
      first = app.inject({ method: 'POST', url: '/v1/qa/aggregate?method=majority', headers: { ...client.auth, ...NDJSON }, payload: body });
      body.write(ndjson(SMALL_SET.slice(0, 5)));
      let firstEnded: number | null = null;
      void first.then((r) => (firstEnded = r.statusCode));
      let status = 0;
      // Polled for up to 15 s: on a loaded machine the first request's auth and body reading took longer than 1 s.
      for (const deadline = Date.now() + 15_000; Date.now() < deadline && firstEnded === null; ) {
        status = (await second()).statusCode;
        if (status === 429) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      if (status === 429) break;
      expect(firstEnded, 'the first aggregation neither held the slot nor was refused within 15 s').toBe(429);
      expect(attempt, 'the first aggregation was overtaken five times').toBeLessThan(5);
    }
    const busy = await app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: { ...vendor.auth, ...NDJSON }, payload: ndjson(SMALL_SET) });
    expectError(busy, 429, 'aggregate_busy');
    expect(busy.headers['retry-after']).toBe('10');
    body.end(ndjson(SMALL_SET.slice(5)));
    const done = await first;
    expect(done.statusCode, done.body).toBe(200);
    expect(parseNdjson(done.body).summary.rows).toBe(10);
    // The slot is free again, also after a refused request.
    expectError(await app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: { ...vendor.auth, ...NDJSON }, payload: 'x\n' }), 400, 'malformed_body');
    expect((await app.inject({ method: 'POST', url: '/v1/qa/aggregate', headers: { ...vendor.auth, ...NDJSON }, payload: ndjson(SMALL_SET) })).statusCode).toBe(200);
  });

  test('over real HTTP the response is chunked and arrives in pieces; a streamed request body is read as it comes', async ({ env, client }) => {
    const server = await buildTestApp(env, [qaSamplingRoutes]);
    try {
      await server.listen({ host: '127.0.0.1', port: 0 });
      const { port } = server.server.address() as { port: number };
      const items = 20_000;
      async function* rows() {
        for (let start = 0; start < items; start += 1000) {
          let chunk = '';
          for (let i = start; i < start + 1000; i++) for (const w of ['w1', 'w2', 'w3']) chunk += `{"item":"item-${i}","worker":"${w}","label":"${(i + (w === 'w3' ? 1 : 0)) % 3}"}\n`;
          yield chunk;
          await new Promise((r) => setImmediate(r));
        }
      }
      const res = await fetch(`http://127.0.0.1:${port}/v1/qa/aggregate?method=dawid_skene`, {
        method: 'POST',
        headers: { ...client.auth, ...NDJSON },
        body: ReadableStream.from(rows()),
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(200);
      expect(res.headers.get('transfer-encoding')).toBe('chunked');
      expect(res.headers.get('content-length')).toBeNull();
      let pieces = 0;
      let text = '';
      const decoder = new TextDecoder();
      for await (const piece of res.body!) {
        pieces++;
        text += decoder.decode(piece as Uint8Array, { stream: true });
      }
      expect(pieces).toBeGreaterThan(1);
      const out = parseNdjson(text);
      expect(out.summary).toMatchObject({ rows: 3 * items, items, workers: 3 });
      expect(out.items.size).toBe(items);
      // w1 and w2 agree on every item; w3 always says the next label.
      expect(out.items.get('item-7')!.label).toBe('1');
      expect(out.workers.get('w3')!.accuracy).toBeLessThan(0.1);
    } finally {
      await server.close();
    }
  });
});
