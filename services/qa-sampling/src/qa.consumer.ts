import type { EventPayload } from '@fairlabel/contracts';
import { createConsumer, GroupCommit, type HandlerMap } from '@fairlabel/queues';
import type { Deps } from '@fairlabel/runtime';
import { decideSubmissions, type BatchOutcome } from './decisions/decide.service.js';
import { countAssignmentDecisions } from './decisions/metrics.js';
import { automateJob } from './predictions/automate.js';

export type QaConsumerDeps = Pick<Deps, 'db' | 'clock' | 'logger'> & Partial<Pick<Deps, 'metrics'>>;

/** Counts a committed batch's decisions (fairlabel_qa_decisions_total, fairlabel_qa_tasks_decided_total). */
function countDecisions(deps: QaConsumerDeps, outcome: BatchOutcome): void {
  if (!deps.metrics) return;
  for (const d of outcome.decided) deps.metrics.qaDecisions.inc({ kind: d.kind, outcome: d.outcome, source: 'consumer' }, d.n);
  if (outcome.tasksDecided > 0) deps.metrics.qaTasksDecided.inc({ automated: 'false' }, outcome.tasksDecided);
  countAssignmentDecisions(deps.metrics, outcome.events, 'consumer');
  for (const e of outcome.events) {
    if (e.event === 'task.decided') deps.metrics.qaTasksDecided.inc({ automated: String(e.payload.automated ?? false) });
  }
}

export interface QaHandlers {
  handlers: HandlerMap;
  committer: GroupCommit<EventPayload<'assignment.submitted'>>;
}

/**
 * The qa-sampling queue's handlers. Submissions are group-committed: those arriving while a batch is
 * deciding wait for the next one, which records and decides all of them in one transaction
 * (decideSubmissions: a fixed number of set-based statements per batch). A handler resolves once its
 * submission's batch committed, so BullMQ acknowledges an event only after its effects are durable.
 */
export function qaHandlers(deps: QaConsumerDeps, maxBatch = 1000): QaHandlers {
  const committer = new GroupCommit<EventPayload<'assignment.submitted'>>(async (items) => {
    const outcome = await decideSubmissions(deps.db, items, deps.clock.now());
    countDecisions(deps, outcome);
  }, maxBatch);
  const automate = async (jobId: string): Promise<void> => {
    const n = await automateJob(deps.db, jobId, deps.clock.now(), (events) => countAssignmentDecisions(deps.metrics, events, 'automation'));
    if (n > 0) deps.metrics?.qaTasksDecided.inc({ automated: 'true' }, n);
  };
  return {
    committer,
    handlers: {
      'assignment.submitted': (payload) => committer.add(payload),
      // prediction_mode auto (predictions/automate.ts): qualifying predictions decide their tasks once the job is live or gains tasks.
      'job.activated': (payload) => automate(payload.job_id),
      'tasks.imported': (payload) => automate(payload.job_id),
    },
  };
}

/** Many events in flight, so group commits fill up under load (a batch's cost is mostly its round trips). */
export const QA_CONCURRENCY = 256;

export function createQaConsumer(deps: Deps, connection: Deps['redis'], concurrency = QA_CONCURRENCY, stalledMs = deps.config.QUEUE_STALLED_MS): ReturnType<typeof createConsumer> {
  return createConsumer({
    queue: 'qa-sampling',
    handlers: qaHandlers(deps).handlers,
    connection,
    prefix: deps.prefix,
    logger: deps.logger,
    concurrency,
    stalledMs,
  });
}
