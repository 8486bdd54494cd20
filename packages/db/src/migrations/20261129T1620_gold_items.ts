import { sql, type Kysely } from 'kysely';

// Gold items are offered by the claim's gold rule (packages/db/sql/wa_claim.sql, rule 8), never by the
// slot search: they have no open slots, so they never count toward any task's overlap. Existing gold
// items' slots are closed here (the sql files keep them closed from now on); the partial index is the
// gold rule's probe of a job's gold items.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE INDEX tasks_gold ON tasks (job_id, id) WHERE gold IS NOT NULL;
    UPDATE task_slots s SET open_slots = 0 FROM tasks t WHERE t.id = s.task_id AND t.gold IS NOT NULL AND s.open_slots <> 0;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP INDEX tasks_gold;
    UPDATE task_slots s SET open_slots = CASE WHEN t.status = 'open' THEN greatest(t.required_annotations - (
      SELECT count(*) FROM assignments a WHERE a.task_id = t.id AND a.status IN ('leased', 'submitted', 'accepted')), 0) ELSE 0 END
    FROM tasks t WHERE t.id = s.task_id AND t.gold IS NOT NULL;
  `.execute(db);
}
