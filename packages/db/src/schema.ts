import type { CoreTables } from './tables/core.js';
import type { WorkTables } from './tables/work.js';
import type { WebhookTables } from './tables/webhooks.js';
import type { WorkerAssignmentTables } from './tables/worker-assignment.js';
import type { SettlementTables } from './tables/settlement.js';
import type { QaSamplingTables } from './tables/qa-sampling.js';
import type { QaReviewTables } from './tables/qa-reviews.js';

/**
 * The one Database interface of the shared schema. Each area keeps its tables in its own file under
 * tables/ and is added here, so services that land in parallel do not edit the same lines.
 */
export interface Database extends CoreTables, WorkTables, WebhookTables, WorkerAssignmentTables, SettlementTables, QaSamplingTables, QaReviewTables {}
