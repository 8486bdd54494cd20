import type { Metrics } from '@fairlabel/observability';
import type { OutboxEvent } from '@fairlabel/queues';

export type DecisionSource = 'consumer' | 'automation' | 'review' | 'appeal';

/**
 * Counts the `assignment.decided` events of committed work in fairlabel_qa_decisions_total, with who
 * decided them. Called after the commit, so a rolled-back decision is never counted.
 */
export function countAssignmentDecisions(metrics: Metrics | undefined, events: readonly OutboxEvent[], source: DecisionSource): void {
  if (!metrics) return;
  for (const e of events) if (e.event === 'assignment.decided') metrics.qaDecisions.inc({ kind: e.payload.kind, outcome: e.payload.outcome, source });
}
