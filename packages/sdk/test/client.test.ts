import { describe, expect } from 'vitest';
import { createFairlabel, FairlabelError, unwrap } from '../src/index.js';
import { test } from './fixtures.js';

describe('typed client', () => {
  test('reads a job through the generated types', async ({ sdk, job }) => {
    const fl = sdk(job.owner);
    const read = await unwrap(fl.api.GET('/v1/jobs/{id}', { params: { path: { id: job.id } } }));
    expect(read).toMatchObject({ id: job.id, status: 'active' });
  });

  test('a 4xx throws a FairlabelError carrying the one error shape', async ({ sdk, job, seed }) => {
    const stranger = sdk(await seed.client());
    const error = await stranger.api.GET('/v1/jobs/{id}', { params: { path: { id: job.id } } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FairlabelError);
    expect(error).toMatchObject({ status: 404, code: 'not_found', method: 'GET', details: [] });
    expect((error as FairlabelError).message.length).toBeGreaterThan(0);

    const invalid = await sdk(job.owner)
      .api.GET('/v1/jobs', { params: { query: { limit: 0 } } })
      .catch((e: unknown) => e);
    expect(invalid).toMatchObject({ status: 400, code: 'validation_failed' });
    expect((invalid as FairlabelError).details).toEqual([expect.objectContaining({ path: expect.stringContaining('limit'), message: expect.any(String) })]);
    expect((invalid as FairlabelError).describe()).toContain('400 validation_failed');
  });

  test('a bad key is a 401 FairlabelError', async ({ baseUrl }) => {
    const error = await createFairlabel({ baseUrl, apiKey: 'fl_nope' }).api.GET('/v1/jobs').catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 401, code: 'unauthorized' });
  });

  test('no answer at all is a FairlabelError with code unreachable', async () => {
    // Port 1 on loopback: nothing listens there.
    const error = await createFairlabel({ baseUrl: 'http://127.0.0.1:1' }).api.GET('/healthz').catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 0, code: 'unreachable' });
  });
});

describe('pagination', () => {
  test('paginate follows next_cursor over several pages; pages yields each page', async ({ sdk, seed, client }) => {
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await seed.job(client, { name: `paged-${i}` })).id);
    const fl = sdk(client);
    const ids: string[] = [];
    for await (const job of fl.paginate('/v1/jobs', { query: { limit: 2 } })) ids.push(job.id);
    expect(ids.sort()).toEqual([...made].sort());

    const sizes: number[] = [];
    for await (const page of fl.pages('/v1/jobs', { query: { limit: 2 } })) sizes.push(page.data.length);
    expect(sizes).toEqual([2, 2, 1]);
  });

  test('filters and path parameters go with every page', async ({ sdk, seed, client }) => {
    await seed.job(client, { name: 'draft-one' });
    const active = await seed.activeJob(0, { owner: client, name: 'active-one' });
    const ids: string[] = [];
    for await (const job of sdk(client).paginate('/v1/jobs', { query: { status: 'active', limit: 1 } })) ids.push(job.id);
    expect(ids).toEqual([active.id]);
  });
});
