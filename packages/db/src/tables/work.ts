import type { ColumnType, Generated } from 'kysely';
import type { Json, Timestamp } from './core.js';

/** jsonb with a column default: kysely's Generated<> cannot wrap Json<> (it would nest two ColumnTypes). */
type JsonWithDefault<T> = ColumnType<T, T | string | undefined, T | string>;

/**
 * The domain tables every service reads: workers and skills (written by worker-assignment), jobs and
 * tasks (written by task-dispatch), assignments (written by worker-assignment, decided by qa-sampling
 * through events). Services add their own columns and tables in their own migrations.
 */

export type WorkerStatus = 'active' | 'suspended';
export type Area = 'urban' | 'rural';

export interface WorkerAccommodations {
  /** Multiplies the job's lease time, e.g. 1.5 for workers on slow connections or with a disability. */
  lease_factor?: number;
  [key: string]: unknown;
}

export interface WorkersTable {
  id: Generated<string>;
  vendor_id: string;
  /** The vendor's own identifier for the worker, unique per vendor. */
  external_ref: string | null;
  display_name: string;
  region_country: string;
  region_province: string | null;
  city_tier: number;
  area: Area;
  timezone: Generated<string>;
  status: Generated<WorkerStatus>;
  accommodations: JsonWithDefault<WorkerAccommodations>;
  daily_active_limit_seconds: number | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export type SkillSource = 'vendor' | 'qa' | 'ops';

export interface WorkerSkillsTable {
  worker_id: string;
  skill: string;
  level: number;
  source: SkillSource;
  /** Set when QA suspends the worker from this skill; claims for jobs needing it are refused. */
  suspended_at: Timestamp | null;
  updated_at: Generated<Date>;
}

export interface SkillLevelEventsTable {
  id: Generated<number>;
  worker_id: string;
  skill: string;
  from_level: number | null;
  to_level: number | null;
  source: SkillSource;
  reason: string;
  actor_key_id: string | null;
  created_at: Generated<Date>;
}

/** The kind of a job's label config (v2: derived from its controls; `custom` for anything but one control of a legacy kind). */
export type TaskType = 'classification' | 'multi_label' | 'bounding_boxes' | 'text_spans' | 'transcription' | 'free_text' | 'custom';
export type JobStatus = 'draft' | 'active' | 'paused' | 'completed' | 'cancelled';

export interface JobsTable {
  id: Generated<string>;
  client_id: string;
  name: string;
  task_type: TaskType;
  /** The v2 label config (packages/contracts label-config.ts): objects and named controls. */
  label_config: Json<Record<string, unknown>>;
  /** The Label Studio XML the config was parsed from, returned as is when asked for Label Studio's form. */
  label_config_xml: string | null;
  instructions: string;
  required_skill: string | null;
  min_level: Generated<number>;
  overlap: Generated<number>;
  /** Minor units of `currency`. */
  pay_per_annotation: number;
  client_price_per_item: number;
  currency: string;
  /** null: any vendor may work the job. */
  vendor_allowlist: string[] | null;
  /** vendor id -> largest share (0..1] of the job's assignments that vendor may hold. */
  vendor_share_caps: JsonWithDefault<Record<string, number>>;
  priority: Generated<number>;
  deadline: Timestamp | null;
  lease_seconds: Generated<number>;
  qa_policy: JsonWithDefault<Record<string, unknown>>;
  contains_pii: Generated<boolean>;
  /** Country codes (ISO 3166-1 alpha-2) whose workers may see the data; null: anywhere. */
  allowed_regions: string[] | null;
  status: Generated<JobStatus>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  activated_at: Timestamp | null;
  completed_at: Timestamp | null;
  cancelled_at: Timestamp | null;
}

export type TaskStatus = 'open' | 'decided' | 'cancelled';

export interface TasksTable {
  id: Generated<number>;
  job_id: string;
  external_id: string | null;
  payload: Json<Record<string, unknown>> | null;
  priority: Generated<number>;
  prediction: Json<unknown> | null;
  prediction_confidence: number | null;
  prediction_model: string | null;
  gold: Json<unknown> | null;
  /** Every model prediction: [{answer, model_version?, score?}]; `prediction*` above hold the first, which claims show. */
  predictions: Json<unknown[]> | null;
  /** Annotations brought by an import (e.g. from Label Studio): [{answer, completed_by?, created_at?, ...}]. */
  prior_annotations: Json<unknown[]> | null;
  /** Image sizes learnt from an import, by object name: {image: {width, height}}. */
  image_sizes: Json<Record<string, { width: number; height: number }>> | null;
  status: Generated<TaskStatus>;
  /** Annotations wanted: the job's overlap, raised by QA when agreement is low. */
  required_annotations: number;
  result: Json<unknown> | null;
  agreement: number | null;
  decided_at: Timestamp | null;
  created_at: Generated<Date>;
}

export type AssignmentStatus = 'leased' | 'submitted' | 'accepted' | 'rejected' | 'expired' | 'released';

export interface AssignmentsTable {
  id: Generated<number>;
  task_id: number;
  job_id: string;
  worker_id: string;
  vendor_id: string;
  status: Generated<AssignmentStatus>;
  leased_at: Generated<Date>;
  lease_expires_at: Timestamp;
  last_heartbeat_at: Timestamp | null;
  submitted_at: Timestamp | null;
  answer: Json<unknown> | null;
  time_spent_ms: number | null;
  release_reason: string | null;
  decided_at: Timestamp | null;
  created_at: Generated<Date>;
}

export interface WorkTables {
  workers: WorkersTable;
  worker_skills: WorkerSkillsTable;
  skill_level_events: SkillLevelEventsTable;
  jobs: JobsTable;
  tasks: TasksTable;
  assignments: AssignmentsTable;
}
