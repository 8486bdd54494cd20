import type { ColumnType, Generated } from 'kysely';
import type { Timestamp } from './core.js';

/**
 * Claim bookkeeping written by worker-assignment (and kept in step by triggers on tasks and
 * assignments: packages/db/sql/wa_tasks_inserted.sql, wa_task_changed.sql, wa_assignment_changed.sql).
 */

export interface TaskSlotsTable {
  task_id: number;
  job_id: string;
  /** The task's priority, copied so the open-slot index orders a job's work by it. */
  priority: number;
  /** Annotations the task can still take: required minus leased, submitted and accepted; 0 once decided. */
  open_slots: number;
}

export interface JobSlotTotalsTable {
  job_id: string;
  /** Sum of the job's tasks' required annotations: the denominator of vendor share caps. */
  total_slots: number;
}

export interface JobVendorUsageTable {
  job_id: string;
  vendor_id: string;
  /** The vendor's leased, submitted and accepted assignments on the job; kept only for capped vendors. */
  held: number;
}

/** Jobs whose assignment answers were erased for a data purge, and how many (one row per job). */
export interface AssignmentAnswerPurgesTable {
  job_id: string;
  answers_erased: number;
  erased_at: Timestamp;
}

/**
 * A worker suspended from one job (QA's suspension from a job without a required skill, applied from
 * `worker.job_suspended`): the claim does not offer the job, and the submit and heartbeat refuse its
 * leases ('job_suspended', wa_answer_refused.sql).
 */
export interface WorkerJobBlocksTable {
  worker_id: string;
  job_id: string;
  vendor_id: string;
  reason: string;
  evidence: ColumnType<Record<string, unknown>, Record<string, unknown> | string, Record<string, unknown> | string>;
  blocked_at: Generated<Date>;
}

declare module './work.js' {
  interface AssignmentsTable {
    /** When the assignment stopped using the worker's time (submitted, released, expired). */
    ended_at: Timestamp | null;
  }
}

export interface WorkerAssignmentTables {
  task_slots: TaskSlotsTable;
  job_slot_totals: JobSlotTotalsTable;
  job_vendor_usage: JobVendorUsageTable;
  assignment_answer_purges: AssignmentAnswerPurgesTable;
  worker_job_blocks: WorkerJobBlocksTable;
}
