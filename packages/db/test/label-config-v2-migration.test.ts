import { describe, expect } from 'vitest';
import { sql } from 'kysely';
import { dbTest as test } from '../src/testing/index.js';
import { migrationBefore } from './migration-before.js';
import { createMigrator, migrateToLatest, type Db } from '../src/index.js';

// The label config v2 migration on data written by the first API: every config and answer rewritten
// in the v2 shapes, pixel boxes converted with the image size they had, those without one kept aside
// (never lost), and `down` restoring every value as it was.

const MIGRATION = '20261129T1230_label_config_v2';

async function one<T>(db: Db, query: ReturnType<typeof sql<T>>): Promise<T> {
  return (await query.execute(db)).rows[0]!;
}

describe(MIGRATION, () => {
  test('rewrites legacy configs and answers, keeps the ones it cannot convert, and down restores them', async ({ db }) => {
    const migrator = createMigrator(db);
    const before = await migrationBefore(migrator, MIGRATION);
    const down = await migrator.migrateTo(before);
    expect(down.error).toBeUndefined();

    const org = await one(db, sql<{ id: string }>`INSERT INTO organizations (name, kind) VALUES ('c', 'client') RETURNING id`);
    const vendor = await one(db, sql<{ id: string }>`INSERT INTO organizations (name, kind) VALUES ('v', 'vendor') RETURNING id`);
    const worker = await one(
      db,
      sql<{ id: string }>`INSERT INTO workers (vendor_id, display_name, region_country, city_tier, area) VALUES (${vendor.id}, 'w', 'IN', 1, 'urban') RETURNING id`,
    );
    const job = (taskType: string, config: unknown) =>
      one(
        db,
        sql<{ id: string }>`INSERT INTO jobs (client_id, name, task_type, label_config, instructions, pay_per_annotation, client_price_per_item, currency)
          VALUES (${org.id}, ${taskType}, ${taskType}, ${JSON.stringify(config)}::jsonb, '', 1, 2, 'USD') RETURNING id`,
      );
    const task = (jobId: string, payload: unknown, values: { gold?: unknown; prediction?: unknown; result?: unknown }) =>
      one(
        db,
        sql<{ id: number }>`INSERT INTO tasks (job_id, payload, gold, prediction, result, required_annotations)
          VALUES (${jobId}, ${JSON.stringify(payload)}::jsonb, ${values.gold === undefined ? null : JSON.stringify(values.gold)}::jsonb,
                  ${values.prediction === undefined ? null : JSON.stringify(values.prediction)}::jsonb,
                  ${values.result === undefined ? null : JSON.stringify(values.result)}::jsonb, 1) RETURNING id`,
      );
    const answer = (jobId: string, taskId: number, value: unknown) =>
      one(
        db,
        sql<{ id: number }>`INSERT INTO assignments (task_id, job_id, worker_id, vendor_id, status, lease_expires_at, answer)
          VALUES (${taskId}, ${jobId}, ${worker.id}, ${vendor.id}, 'submitted', now(), ${JSON.stringify(value)}::jsonb) RETURNING id`,
      );

    const pets = await job('classification', { labels: ['cat', 'dog'] });
    const petTask = await task(pets.id, { image: 'https://x/1.jpg' }, { gold: { label: 'cat' }, prediction: { label: 'dog' }, result: { label: 'cat' } });
    const petAnswer = await answer(pets.id, petTask.id, { label: 'dog' });
    const fixed = await job('bounding_boxes', { labels: ['car'], image_width: 200, image_height: 100, min_width: 1, min_height: 1, min_boxes: 0, max_boxes: 10 });
    const fixedTask = await task(fixed.id, { image: 'a.jpg' }, { gold: { boxes: [{ label: 'car', x: 20, y: 10, width: 100, height: 50 }] } });
    const sized = await job('bounding_boxes', { labels: ['car'], min_width: 1, min_height: 1, min_boxes: 0, max_boxes: 10 });
    const sizedTask = await task(sized.id, { image: 'b.jpg', image_width: 400, image_height: 400 }, { result: { boxes: [{ label: 'car', x: 40, y: 40, width: 40, height: 40 }] } });
    const unsizedTask = await task(sized.id, { image: 'c.jpg' }, { result: { boxes: [] } });
    const lostAnswer = await answer(sized.id, unsizedTask.id, { boxes: [{ label: 'car', x: 1, y: 2, width: 3, height: 4 }] });
    const ner = await job('text_spans', { entity_types: ['PER'], allow_overlap: false, max_spans: 100 });
    const nerTask = await task(ner.id, { text: 'Ada' }, { gold: { spans: [{ start: 0, end: 3, label: 'PER' }] } });
    const notes = await job('free_text', { min_length: 0, max_length: 50 });
    const notesTask = await task(notes.id, { text: 'x' }, { result: { text: 'fine' } });

    await migrateToLatest(db);

    const config = async (id: string) => (await one(db, sql<{ label_config: unknown; task_type: string }>`SELECT label_config, task_type FROM jobs WHERE id = ${id}`)).label_config;
    expect(await config(pets.id)).toEqual({
      version: 2,
      objects: [{ name: 'item', type: 'image', value: '$image' }],
      controls: [{ name: 'label', type: 'choices', to_name: 'item', choices: ['cat', 'dog'], multiple: false, required: true, per_region: false }],
    });
    expect(await config(fixed.id)).toMatchObject({
      objects: [{ name: 'image', type: 'image', value: '$image', width: 200, height: 100 }],
      controls: [{ name: 'label', type: 'rectangle', labels: ['car'], can_rotate: false, min: 0, max: 10, min_width: 0.5, min_height: 1 }],
    });
    expect(await config(ner.id)).toMatchObject({ objects: [{ name: 'text', type: 'text', value: '$text' }], controls: [{ type: 'labels', labels: ['PER'], allow_overlap: false, max: 100 }] });
    expect(await config(notes.id)).toMatchObject({ controls: [{ name: 'answer', type: 'textarea', max_length: 50, max_items: 1 }] });

    const taskRow = (id: number) => one(db, sql<{ gold: unknown; prediction: unknown; result: unknown }>`SELECT gold, prediction, result FROM tasks WHERE id = ${id}`);
    const answerOf = async (id: number) => (await one(db, sql<{ answer: unknown }>`SELECT answer FROM assignments WHERE id = ${id}`)).answer;
    expect(await taskRow(petTask.id)).toEqual({ gold: { label: { choices: ['cat'] } }, prediction: { label: { choices: ['dog'] } }, result: { label: { choices: ['cat'] } } });
    expect(await answerOf(petAnswer.id)).toEqual({ label: { choices: ['dog'] } });
    expect((await taskRow(fixedTask.id)).gold).toEqual({ label: { boxes: [{ labels: ['car'], x: 10, y: 10, width: 50, height: 50 }] } });
    expect((await taskRow(sizedTask.id)).result).toEqual({ label: { boxes: [{ labels: ['car'], x: 10, y: 10, width: 10, height: 10 }] } });
    expect((await taskRow(unsizedTask.id)).result).toEqual({ label: { boxes: [] } });
    expect((await taskRow(nerTask.id)).gold).toEqual({ label: { spans: [{ start: 0, end: 3, labels: ['PER'] }] } });
    expect((await taskRow(notesTask.id)).result).toEqual({ answer: { text: ['fine'] } });
    // Pixel boxes with no size to convert them by: kept aside, not lost.
    expect(await answerOf(lostAnswer.id)).toBeNull();
    const kept = await sql<{ table_name: string; row_id: string; value: unknown; converted: boolean; reason: string | null }>`
      SELECT table_name, row_id, value, converted, reason FROM label_config_legacy_values WHERE NOT converted`.execute(db);
    expect(kept.rows).toEqual([
      { table_name: 'assignments', row_id: String(lostAnswer.id), value: { boxes: [{ label: 'car', x: 1, y: 2, width: 3, height: 4 }] }, converted: false, reason: 'pixel boxes without a known image size' },
    ]);

    // Down restores every value it rewrote.
    expect((await migrator.migrateTo(before)).error).toBeUndefined();
    expect(await answerOf(lostAnswer.id)).toEqual({ boxes: [{ label: 'car', x: 1, y: 2, width: 3, height: 4 }] });
    expect(await answerOf(petAnswer.id)).toEqual({ label: 'dog' });
    expect(await taskRow(petTask.id)).toEqual({ gold: { label: 'cat' }, prediction: { label: 'dog' }, result: { label: 'cat' } });
    expect(await config(fixed.id)).toEqual({ labels: ['car'], image_width: 200, image_height: 100, min_width: 1, min_height: 1, min_boxes: 0, max_boxes: 10 });
    await migrateToLatest(db);
  });

  test('refuses to go down while a job has only a v2 config', async ({ db }) => {
    const org = await one(db, sql<{ id: string }>`INSERT INTO organizations (name, kind) VALUES ('c2', 'client') RETURNING id`);
    await sql`INSERT INTO jobs (client_id, name, task_type, label_config, instructions, pay_per_annotation, client_price_per_item, currency)
      VALUES (${org.id}, 'new', 'custom', '{"version":2,"objects":[],"controls":[]}'::jsonb, '', 1, 2, 'USD')`.execute(db);
    const migrator = createMigrator(db);
    const result = await migrator.migrateTo(await migrationBefore(migrator, MIGRATION));
    expect(String(result.error)).toMatch(/cannot revert label config v2: 1 jobs were created with v2 configs/);
  });
});
