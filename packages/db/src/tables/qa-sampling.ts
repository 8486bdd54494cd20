import type { ColumnType, Generated } from 'kysely';
import type { Timestamp } from './core.js';

/** qa-sampling's tables (migration 20261129T1600_qa_decisions; written by qa-sampling only). */

type JsonColumn<T> = ColumnType<T, T | string, T | string>;

export type QaRoute = 'consensus' | 'gold' | 'review' | 'automation';

export interface QaSubmissionsTable {
  assignment_id: number;
  task_id: number;
  job_id: string;
  worker_id: string;
  vendor_id: string;
  route: QaRoute;
  fast: Generated<boolean>;
  time_spent_ms: number | null;
  received_at: Generated<Date>;
}

export interface QaTasksTable {
  task_id: number;
  job_id: string;
  submissions: Generated<number>;
  overlap_requested: number | null;
  ds_records: JsonColumn<Record<string, unknown>> | null;
  decision_id: number | null;
  updated_at: Generated<Date>;
}

export type QaDecisionMethod = 'majority' | 'accuracy_weighted' | 'dawid_skene' | 'review' | 'automation' | 'appeal';

export interface QaTaskDecisionsTable {
  id: Generated<number>;
  task_id: number;
  job_id: string;
  client_id: string;
  result: JsonColumn<unknown>;
  agreement: number;
  confidence: number;
  method: QaDecisionMethod;
  automated: Generated<boolean>;
  annotations: number;
  extra_annotations: Generated<number>;
  supersedes_decision_id: number | null;
  decided_at: Generated<Date>;
}

export interface QaAssignmentDecisionsTable {
  id: Generated<number>;
  assignment_id: number;
  task_id: number;
  job_id: string;
  client_id: string;
  worker_id: string;
  vendor_id: string;
  task_decision_id: number | null;
  outcome: 'accepted' | 'rejected';
  kind: 'annotation' | 'gold' | 'verify';
  score: number | null;
  reason: string;
  worker_level: number | null;
  supersedes_decision_id: number | null;
  decided_at: Generated<Date>;
}

export interface QaDsStatesTable {
  job_id: string;
  control: string;
  state: JsonColumn<unknown>;
  items: Generated<number>;
  updated_at: Generated<Date>;
}

export interface QaWorkerSkillsTable {
  worker_id: string;
  vendor_id: string;
  skill: string;
  gold_total: Generated<number>;
  gold_correct: Generated<number>;
  gold_total_since_level: Generated<number>;
  gold_correct_since_level: Generated<number>;
  fast_answers: Generated<number>;
  /** The last promotion QA decided (from → to), so its next rule reads the level it set before worker-assignment applies it. */
  promoted_from: number | null;
  promoted_to: number | null;
  suspended_at: Timestamp | null;
  updated_at: Generated<Date>;
}

export interface QaGoldScoresTable {
  assignment_id: number;
  task_id: number;
  job_id: string;
  worker_id: string;
  vendor_id: string;
  skill: string;
  score: number;
  passed: boolean;
  fast: Generated<boolean>;
  accuracy_before: number;
  scored_at: Generated<Date>;
}

export interface QaSuspectGoldTable {
  task_id: number;
  job_id: string;
  evidence: JsonColumn<Record<string, unknown>>;
  flagged_at: Generated<Date>;
}

export interface QaSkillActionsTable {
  id: Generated<number>;
  worker_id: string;
  vendor_id: string;
  skill: string;
  action: 'promote' | 'suspend' | 'reinstate';
  from_level: number | null;
  to_level: number | null;
  at_gold_total: number;
  evidence: JsonColumn<Record<string, unknown>>;
  /** Set for a suspension from one job (skill `*`: jobs without a required skill); null for a skill's actions. */
  job_id: string | null;
  created_at: Generated<Date>;
}

/** A worker's gold record on one job without a required skill: its floor suspends from that job only. */
export interface QaWorkerJobsTable {
  worker_id: string;
  job_id: string;
  vendor_id: string;
  gold_total: Generated<number>;
  gold_correct: Generated<number>;
  fast_answers: Generated<number>;
  suspended_at: Timestamp | null;
  updated_at: Generated<Date>;
}

export interface QaSamplingTables {
  qa_submissions: QaSubmissionsTable;
  qa_tasks: QaTasksTable;
  qa_task_decisions: QaTaskDecisionsTable;
  qa_assignment_decisions: QaAssignmentDecisionsTable;
  qa_ds_states: QaDsStatesTable;
  qa_worker_skills: QaWorkerSkillsTable;
  qa_gold_scores: QaGoldScoresTable;
  qa_suspect_gold: QaSuspectGoldTable;
  qa_skill_actions: QaSkillActionsTable;
  qa_worker_jobs: QaWorkerJobsTable;
}
