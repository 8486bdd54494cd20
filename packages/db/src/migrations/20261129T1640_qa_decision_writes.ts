import { sql, type Kysely } from 'kysely';

// QA writes decisions in sets (hundreds per statement): each decision row's id comes from its identity
// sequence, so a cache of ids per connection saves a sequence access per row; and the reference from an
// assignment decision to its task decision is written by the same statement that writes the task
// decision (decide.service.ts), so its per-row foreign-key check bought nothing but a lookup per row.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE qa_task_decisions ALTER COLUMN id SET CACHE 1000;
    ALTER TABLE qa_assignment_decisions ALTER COLUMN id SET CACHE 1000;
    ALTER TABLE qa_assignment_decisions DROP CONSTRAINT qa_assignment_decisions_task_decision_id_fkey;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE qa_assignment_decisions ADD CONSTRAINT qa_assignment_decisions_task_decision_id_fkey FOREIGN KEY (task_decision_id) REFERENCES qa_task_decisions (id);
    ALTER TABLE qa_assignment_decisions ALTER COLUMN id SET CACHE 1;
    ALTER TABLE qa_task_decisions ALTER COLUMN id SET CACHE 1;
  `.execute(db);
}
