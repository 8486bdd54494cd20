import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { FairlabelError, unwrap, type ImportProgress } from '../src/index.js';
import { test } from './fixtures.js';

const items = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ external_id: `ext-${from + i}`, data: { text: `item ${from + i} {with braces}` } }));

describe('streamed import with progress', () => {
  test('NDJSON in chunks: progress events count bytes and rows up to the whole body, then the report', async ({ sdk, seed, client }) => {
    const job = await seed.job(client);
    const lines = items(120).map((item) => JSON.stringify(item) + '\n');
    const chunks = [lines.slice(0, 40), lines.slice(40, 80), lines.slice(80)].map((part) => new TextEncoder().encode(part.join('')));
    const total = chunks.reduce((n, c) => n + c.byteLength, 0);
    const events: ImportProgress[] = [];
    const result = await sdk(client).importTasks(job.id, chunks, { format: 'ndjson', totalBytes: total, onProgress: (p) => events.push(p) });

    expect(result).toMatchObject({ job_id: job.id, format: 'ndjson', received: 120, created: 120, duplicates: 0, rejected: 0 });
    expect(events.map((e) => [e.bytes, e.rows, e.done])).toEqual([
      [chunks[0]!.byteLength, 40, false],
      [chunks[0]!.byteLength + chunks[1]!.byteLength, 80, false],
      [total, 120, false],
      [total, 120, true],
    ]);
    expect(events.every((e) => e.totalBytes === total)).toBe(true);
  });

  test('a file: format from its extension, totalBytes from its size; a second import counts duplicates', async ({ sdk, seed, client }) => {
    const job = await seed.job(client);
    const dir = await mkdtemp(join(tmpdir(), 'sdk-import-'));
    const json = join(dir, 'tasks.json');
    await writeFile(json, JSON.stringify(items(30)));
    const csv = join(dir, 'more.csv');
    await writeFile(csv, 'external_id,text\n' + items(5, 30).map((i) => `${i.external_id},"${i.data.text}"`).join('\n') + '\n');
    const fl = sdk(client);

    const events: ImportProgress[] = [];
    const first = await fl.importFile(job.id, json, { onProgress: (p) => events.push(p) });
    expect(first).toMatchObject({ format: 'json', received: 30, created: 30 });
    const last = events.at(-1)!;
    expect(last).toMatchObject({ done: true, rows: 30, bytes: JSON.stringify(items(30)).length, totalBytes: JSON.stringify(items(30)).length });

    expect(await fl.importFile(job.id, json)).toMatchObject({ received: 30, created: 0, duplicates: 30 });
    expect(await fl.importFile(job.id, csv)).toMatchObject({ format: 'csv', received: 5, created: 5 });
    const progress = await unwrap(fl.api.GET('/v1/jobs/{id}/progress', { params: { path: { id: job.id } } }));
    expect(progress.tasks.total).toBe(35);
  });

  test('a rejected import throws the FairlabelError with the API code and each bad line', async ({ sdk, seed, client }) => {
    const job = await seed.job(client);
    const body = [JSON.stringify(items(1)[0]), '{"external_id":"no-data"}'].join('\n');
    const error = await sdk(client)
      .importTasks(job.id, body, { format: 'ndjson' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FairlabelError);
    expect(error).toMatchObject({ status: 422, code: 'import_rejected', method: 'POST' });
    expect((error as FairlabelError).details.length).toBeGreaterThan(0);
  });

  test("another client's job is a 404", async ({ sdk, seed, client }) => {
    const job = await seed.job(await seed.client());
    const error = await sdk(client)
      .importTasks(job.id, JSON.stringify(items(1)), { format: 'json' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 404, code: 'not_found' });
  });
});
