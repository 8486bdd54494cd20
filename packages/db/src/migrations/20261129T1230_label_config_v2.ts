import { sql, type Kysely } from 'kysely';

/**
 * Label config v2 (issue 10): a job's config becomes a list of named controls on named objects, and
 * an answer an object keyed by control name. Every stored config and answer (tasks.gold, prediction,
 * result; assignments.answer) of the six task types is rewritten in the v2 shapes:
 *
 *   classification  {label}          -> {label: {choices: [label]}}
 *   multi_label     {labels}         -> {label: {choices: labels}}
 *   bounding_boxes  {boxes: [{label, x, y, width, height}]} (pixels) -> {label: {boxes: [{labels: [label], x, y, width, height}]}} (percent)
 *   text_spans      {spans: [{start, end, label}]} -> {label: {spans: [{start, end, labels: [label]}]}}
 *   transcription, free_text {text} -> {answer: {text: [text]}}
 *
 * Every value it rewrites is kept, as it was, in `label_config_legacy_values`, which `down` restores from.
 * Pixel boxes need the image size (the job's `image_width`/`image_height`, or the task payload's) to
 * become percent; a value with boxes and no known size cannot be converted: it is set to NULL in place
 * and kept in `label_config_legacy_values` with `converted = false` and the reason, so nothing is lost
 * silently (the migration logs how many).
 *
 * This file holds its own copy of the conversion (and of the choice of object from a sample item, as
 * packages/contracts' labelConfigFromLegacy does), so it stays what it was when later code changes.
 *
 * New columns: jobs.label_config_xml (the Label Studio XML a job was created from, returned as is by
 * GET /v1/jobs/:id/label-config?format=labelstudio), tasks.predictions (every model prediction, with
 * model_version and score; tasks.prediction* stay the first one, which claims show), tasks.prior_annotations
 * (annotations an import brought: who, when, result) and tasks.image_sizes (image sizes learnt from an
 * import, by object name). All written by task-dispatch.
 */

type Legacy = Record<string, unknown>;

function objectFor(taskType: string, sample: Legacy | null, size?: { width: number; height: number }) {
  const imageKey = ['image', 'image_url', 'url'].find((k) => typeof sample?.[k] === 'string');
  if (taskType === 'bounding_boxes') return { name: 'image', type: 'image', value: `$${imageKey ?? 'image'}`, ...(size ?? {}) };
  if (taskType === 'text_spans') return { name: 'text', type: 'text', value: '$text' };
  if (imageKey && typeof sample?.text !== 'string') return { name: 'item', type: 'image', value: `$${imageKey}` };
  const textKey = typeof sample?.text === 'string' || !sample ? 'text' : (Object.keys(sample).find((k) => typeof sample[k] === 'string') ?? 'text');
  return { name: 'item', type: 'text', value: `$${textKey}` };
}

function v2Config(taskType: string, c: Legacy, sample: Legacy | null) {
  const width = typeof c.image_width === 'number' ? c.image_width : undefined;
  const height = typeof c.image_height === 'number' ? c.image_height : undefined;
  const size = width !== undefined && height !== undefined ? { width, height } : undefined;
  const object = objectFor(taskType, sample, size);
  const base = { to_name: object.name };
  let control: Record<string, unknown>;
  switch (taskType) {
    case 'classification':
      control = { ...base, name: 'label', type: 'choices', choices: c.labels, multiple: false, required: true, per_region: false };
      break;
    case 'multi_label':
      control = { ...base, name: 'label', type: 'choices', choices: c.labels, multiple: true, min: c.min_picks, max: c.max_picks, required: Number(c.min_picks) > 0, per_region: false };
      break;
    case 'bounding_boxes':
      control = {
        ...base,
        name: 'label',
        type: 'rectangle',
        labels: c.labels,
        multiple: false,
        can_rotate: false,
        min: c.min_boxes,
        max: c.max_boxes,
        required: Number(c.min_boxes) > 0,
        ...(size && typeof c.min_width === 'number' && typeof c.min_height === 'number' ? { min_width: (c.min_width * 100) / size.width, min_height: (c.min_height * 100) / size.height } : {}),
      };
      break;
    case 'text_spans':
      control = { ...base, name: 'label', type: 'labels', labels: c.entity_types, multiple: false, allow_overlap: c.allow_overlap === true, max: c.max_spans, required: false };
      break;
    default:
      control = { ...base, name: 'answer', type: 'textarea', min_length: c.min_length ?? 0, max_length: c.max_length, max_items: 1, required: true, per_region: false };
  }
  return { version: 2, objects: [object], controls: [control] };
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE jobs DROP CONSTRAINT jobs_task_type_check;
    ALTER TABLE jobs ADD CONSTRAINT jobs_task_type_check
      CHECK (task_type IN ('classification', 'multi_label', 'bounding_boxes', 'text_spans', 'transcription', 'free_text', 'custom'));
    ALTER TABLE jobs ADD COLUMN label_config_xml text;
    ALTER TABLE tasks ADD COLUMN predictions jsonb, ADD COLUMN prior_annotations jsonb, ADD COLUMN image_sizes jsonb;

    CREATE TABLE label_config_legacy_values (
      table_name text NOT NULL,
      row_id text NOT NULL,
      column_name text NOT NULL,
      value jsonb NOT NULL,
      converted boolean NOT NULL,
      reason text,
      PRIMARY KEY (table_name, row_id, column_name)
    );

    -- One legacy answer in the v2 shape; NULL when it has boxes and no image size is known.
    CREATE OR REPLACE FUNCTION pg_temp.fl_v2_answer(task_type text, v jsonb, w numeric, h numeric) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $f$
    BEGIN
      IF v IS NULL OR jsonb_typeof(v) <> 'object' THEN RETURN v; END IF;
      CASE task_type
        WHEN 'classification' THEN RETURN jsonb_build_object('label', jsonb_build_object('choices', jsonb_build_array(v->'label')));
        WHEN 'multi_label' THEN RETURN jsonb_build_object('label', jsonb_build_object('choices', coalesce(v->'labels', '[]')));
        WHEN 'transcription', 'free_text' THEN RETURN jsonb_build_object('answer', jsonb_build_object('text', jsonb_build_array(v->'text')));
        WHEN 'text_spans' THEN
          RETURN jsonb_build_object('label', jsonb_build_object('spans', coalesce((
            SELECT jsonb_agg(jsonb_build_object('start', s->'start', 'end', s->'end', 'labels', jsonb_build_array(s->'label')) ORDER BY n)
            FROM jsonb_array_elements(v->'spans') WITH ORDINALITY e(s, n)), '[]')));
        WHEN 'bounding_boxes' THEN
          IF jsonb_array_length(coalesce(v->'boxes', '[]')) > 0 AND (w IS NULL OR h IS NULL) THEN RETURN NULL; END IF;
          RETURN jsonb_build_object('label', jsonb_build_object('boxes', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                     'labels', jsonb_build_array(b->'label'),
                     'x', round((b->>'x')::numeric * 100 / w, 9), 'y', round((b->>'y')::numeric * 100 / h, 9),
                     'width', round((b->>'width')::numeric * 100 / w, 9), 'height', round((b->>'height')::numeric * 100 / h, 9)) ORDER BY n)
            FROM jsonb_array_elements(v->'boxes') WITH ORDINALITY e(b, n)), '[]')));
        ELSE RETURN v;
      END CASE;
    END $f$;
  `.execute(db);

  const jobs = await sql<{ id: string; task_type: string; label_config: Legacy }>`SELECT id, task_type, label_config FROM jobs ORDER BY id`.execute(db);
  let unconverted = 0;
  for (const job of jobs.rows) {
    const sample = await sql<{ payload: Legacy }>`SELECT payload FROM tasks WHERE job_id = ${job.id} AND payload IS NOT NULL ORDER BY id LIMIT 1`.execute(db);
    const config = v2Config(job.task_type, job.label_config, sample.rows[0]?.payload ?? null);
    await sql`INSERT INTO label_config_legacy_values VALUES ('jobs', ${job.id}, 'label_config', ${JSON.stringify(job.label_config)}::jsonb, true, NULL)`.execute(db);
    await sql`UPDATE jobs SET label_config = ${JSON.stringify(config)}::jsonb WHERE id = ${job.id}`.execute(db);
    const w = typeof job.label_config.image_width === 'number' ? job.label_config.image_width : null;
    const h = typeof job.label_config.image_height === 'number' ? job.label_config.image_height : null;
    // Sizes for boxes: the job's fixed size, else the item's image_width/image_height.
    const width = sql`coalesce(${w}::numeric, CASE WHEN jsonb_typeof(t.payload->'image_width') = 'number' THEN (t.payload->>'image_width')::numeric END)`;
    const height = sql`coalesce(${h}::numeric, CASE WHEN jsonb_typeof(t.payload->'image_height') = 'number' THEN (t.payload->>'image_height')::numeric END)`;
    for (const column of ['gold', 'prediction', 'result'] as const) {
      const c = sql.ref(`t.${column}`);
      const r = await sql`
        WITH old AS (
          SELECT t.id, ${c} AS value, pg_temp.fl_v2_answer(${job.task_type}, ${c}, ${width}, ${height}) AS value_v2
          FROM tasks t WHERE t.job_id = ${job.id} AND ${c} IS NOT NULL
        ), saved AS (
          INSERT INTO label_config_legacy_values
          SELECT 'tasks', id::text, ${column}, value, value_v2 IS NOT NULL, CASE WHEN value_v2 IS NULL THEN 'pixel boxes without a known image size' END FROM old
        )
        UPDATE tasks t SET ${sql.ref(column)} = old.value_v2 FROM old WHERE t.id = old.id
        RETURNING old.value_v2 IS NULL AS lost
      `.execute(db);
      unconverted += (r.rows as { lost: boolean }[]).filter((x) => x.lost).length;
    }
    const r = await sql`
      WITH old AS (
        SELECT a.id, a.answer AS value, pg_temp.fl_v2_answer(${job.task_type}, a.answer, ${width}, ${height}) AS value_v2
        FROM assignments a JOIN tasks t ON t.id = a.task_id WHERE a.job_id = ${job.id} AND a.answer IS NOT NULL
      ), saved AS (
        INSERT INTO label_config_legacy_values
        SELECT 'assignments', id::text, 'answer', value, value_v2 IS NOT NULL, CASE WHEN value_v2 IS NULL THEN 'pixel boxes without a known image size' END FROM old
      )
      UPDATE assignments a SET answer = old.value_v2 FROM old WHERE a.id = old.id
      RETURNING old.value_v2 IS NULL AS lost
    `.execute(db);
    unconverted += (r.rows as { lost: boolean }[]).filter((x) => x.lost).length;
  }
  await sql`DROP FUNCTION pg_temp.fl_v2_answer(text, jsonb, numeric, numeric)`.execute(db);
  if (unconverted > 0) {
    console.warn(`label config v2: ${unconverted} answers with pixel boxes and no known image size could not be converted; they are kept in label_config_legacy_values (converted = false)`);
  }
}

/**
 * Restores every value the up migration rewrote. Jobs created since then have only v2 configs, which
 * the first API cannot express: down refuses while any exists rather than leave them unreadable.
 */
export async function down(db: Kysely<unknown>): Promise<void> {
  const newer = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM jobs j
    WHERE NOT EXISTS (SELECT 1 FROM label_config_legacy_values v WHERE v.table_name = 'jobs' AND v.row_id = j.id::text)`.execute(db);
  if ((newer.rows[0]?.n ?? 0) > 0) throw new Error(`cannot revert label config v2: ${newer.rows[0]!.n} jobs were created with v2 configs since`);
  await sql`
    UPDATE jobs j SET label_config = v.value FROM label_config_legacy_values v WHERE v.table_name = 'jobs' AND v.row_id = j.id::text AND v.column_name = 'label_config';
    UPDATE tasks t SET gold = v.value FROM label_config_legacy_values v WHERE v.table_name = 'tasks' AND v.row_id = t.id::text AND v.column_name = 'gold';
    UPDATE tasks t SET prediction = v.value FROM label_config_legacy_values v WHERE v.table_name = 'tasks' AND v.row_id = t.id::text AND v.column_name = 'prediction';
    UPDATE tasks t SET result = v.value FROM label_config_legacy_values v WHERE v.table_name = 'tasks' AND v.row_id = t.id::text AND v.column_name = 'result';
    UPDATE assignments a SET answer = v.value FROM label_config_legacy_values v WHERE v.table_name = 'assignments' AND v.row_id = a.id::text AND v.column_name = 'answer';
    DROP TABLE label_config_legacy_values;
    ALTER TABLE tasks DROP COLUMN predictions, DROP COLUMN prior_annotations, DROP COLUMN image_sizes;
    ALTER TABLE jobs DROP COLUMN label_config_xml;
    ALTER TABLE jobs DROP CONSTRAINT jobs_task_type_check;
    ALTER TABLE jobs ADD CONSTRAINT jobs_task_type_check
      CHECK (task_type IN ('classification', 'multi_label', 'bounding_boxes', 'text_spans', 'transcription', 'free_text'));
  `.execute(db);
}
