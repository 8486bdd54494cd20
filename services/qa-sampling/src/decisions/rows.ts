import { sql, type Database } from '@fairlabel/db';
import type { Transaction } from 'kysely';
import type { JobControl, QaPolicy } from './policy.js';

type Trx = Transaction<Database>;

/** A job as the decisions need it (read once per batch). */
export interface DecisionJob {
  id: string;
  clientId: string;
  overlap: number;
  requiredSkill: string | null;
  skill: string;
  controls: JobControl[];
  policy: QaPolicy;
}

/** An assignment decision row; its fields are also exactly the `assignment.decided` payload's (the extra ones are dropped by the schema). */
export function assignmentDecision(
  id: number,
  row: { assignment_id: number; task_id: number; job_id: string; worker_id: string; vendor_id: string; level: number | null },
  job: Pick<DecisionJob, 'clientId' | 'requiredSkill'>,
  taskDecisionId: number | null,
  pass: boolean,
  score: number,
  reason: string,
  decidedAt: string,
  kind: 'annotation' | 'gold' = 'annotation',
): Record<string, unknown> {
  return {
    id, decision_id: id, assignment_id: row.assignment_id, task_id: row.task_id, job_id: row.job_id, client_id: job.clientId, worker_id: row.worker_id,
    vendor_id: row.vendor_id, task_decision_id: taskDecisionId, outcome: pass ? 'accepted' : 'rejected', kind, score, reason,
    worker_level: job.requiredSkill === null ? null : row.level, supersedes_decision_id: null, decided_at: decidedAt,
  };
}

/** Decision ids taken from the tables' identity sequences up front, so one statement writes decisions and the events name them. */
export async function allocateIds(trx: Trx, tasks: number, assignments: number): Promise<{ task: number[]; assignment: number[] }> {
  if (tasks + assignments === 0) return { task: [], assignment: [] };
  const r = await sql<{ t: number[] | null; a: number[] | null }>`
    SELECT (SELECT array_agg(nextval(pg_get_serial_sequence('qa_task_decisions', 'id'))) FROM generate_series(1, ${tasks}::int)) AS t,
           (SELECT array_agg(nextval(pg_get_serial_sequence('qa_assignment_decisions', 'id'))) FROM generate_series(1, ${assignments}::int)) AS a`.execute(trx);
  return { task: (r.rows[0]!.t ?? []).map(Number), assignment: (r.rows[0]!.a ?? []).map(Number) };
}
