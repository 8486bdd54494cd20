import type { ColumnType, Generated } from 'kysely';
import type { Timestamp } from './core.js';

/** qa-sampling's review and appeal tables (migration 20261129T1720_qa_reviews; written by qa-sampling only). */

type JsonColumn<T> = ColumnType<T, T | string, T | string>;

export interface QaReviewsTable {
  id: Generated<number>;
  assignment_id: number;
  task_id: number;
  job_id: string;
  client_id: string;
  worker_id: string;
  vendor_id: string;
  status: Generated<'pending' | 'leased' | 'completed'>;
  reviewer_worker_id: string | null;
  reviewer_vendor_id: string | null;
  leased_at: Timestamp | null;
  lease_expires_at: Timestamp | null;
  last_heartbeat_at: Timestamp | null;
  outcome: 'accepted' | 'rejected' | 'corrected' | null;
  comment: string | null;
  corrected_answer: JsonColumn<unknown> | null;
  time_spent_ms: number | null;
  decision_id: number | null;
  task_decision_id: number | null;
  sampled_at: Generated<Date>;
  completed_at: Timestamp | null;
}

export interface QaAppealsTable {
  id: Generated<number>;
  assignment_id: number;
  rejection_decision_id: number;
  task_id: number;
  job_id: string;
  client_id: string;
  worker_id: string;
  vendor_id: string;
  worker_level: number;
  reason: string;
  status: Generated<'pending' | 'upheld' | 'denied'>;
  decider_worker_id: string | null;
  decider_vendor_id: string | null;
  comment: string | null;
  decision_id: number | null;
  created_at: Generated<Date>;
  decided_at: Timestamp | null;
}

export interface QaReviewTables {
  qa_reviews: QaReviewsTable;
  qa_appeals: QaAppealsTable;
}
