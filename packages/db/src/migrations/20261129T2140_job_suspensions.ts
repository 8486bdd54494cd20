import { sql, type Kysely } from 'kysely';

/**
 * Suspension from one job, for jobs without a required skill (issue 11, item 7). Their gold is recorded
 * on the skill `*`, shared by every skill-less job of every client, so suspending from `*` would bar a
 * worker from all of them for one job's gold. Instead:
 * - qa_worker_jobs (qa-sampling's): the worker's gold record on one skill-less job, which the floor is
 *   checked against (the job's gold says the worker does this job badly), and when QA suspended them;
 * - qa_skill_actions.job_id: a suspension from one job is recorded as skill `*` with the job, so its
 *   key (worker, skill, action, gold count) gains the job — NULLS NOT DISTINCT keeps skill actions
 *   (job_id null) unique as before;
 * - worker_job_blocks (worker-assignment's, written on `worker.job_suspended`): the block the claim
 *   (wa_claim_job) and the submit and heartbeat (wa_answer_refused, 'job_suspended') honour.
 * wa_answer_refused gains a parameter: the old signature is dropped here and the file recreates it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE qa_worker_jobs (
      worker_id uuid NOT NULL,
      job_id uuid NOT NULL,
      vendor_id uuid NOT NULL,
      gold_total integer NOT NULL DEFAULT 0,
      gold_correct integer NOT NULL DEFAULT 0,
      fast_answers integer NOT NULL DEFAULT 0,
      suspended_at timestamptz(3),
      updated_at timestamptz(3) NOT NULL DEFAULT now(),
      PRIMARY KEY (worker_id, job_id)
    );

    ALTER TABLE qa_skill_actions ADD COLUMN job_id uuid;
    ALTER TABLE qa_skill_actions DROP CONSTRAINT qa_skill_actions_worker_id_skill_action_at_gold_total_key;
    ALTER TABLE qa_skill_actions ADD CONSTRAINT qa_skill_actions_key UNIQUE NULLS NOT DISTINCT (worker_id, skill, action, at_gold_total, job_id);

    CREATE TABLE worker_job_blocks (
      worker_id uuid NOT NULL REFERENCES workers (id),
      job_id uuid NOT NULL,
      vendor_id uuid NOT NULL,
      reason text NOT NULL,
      evidence jsonb NOT NULL,
      blocked_at timestamptz(3) NOT NULL DEFAULT now(),
      PRIMARY KEY (worker_id, job_id)
    );

    DROP FUNCTION IF EXISTS wa_answer_refused(text, text, text, timestamptz);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP FUNCTION IF EXISTS wa_answer_refused(text, text, text, timestamptz, timestamptz);
    DROP TABLE worker_job_blocks;
    DELETE FROM qa_skill_actions WHERE job_id IS NOT NULL;
    ALTER TABLE qa_skill_actions DROP CONSTRAINT qa_skill_actions_key;
    ALTER TABLE qa_skill_actions ADD CONSTRAINT qa_skill_actions_worker_id_skill_action_at_gold_total_key UNIQUE (worker_id, skill, action, at_gold_total);
    ALTER TABLE qa_skill_actions DROP COLUMN job_id;
    DROP TABLE qa_worker_jobs;
  `.execute(db);
}
