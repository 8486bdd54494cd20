import type { ReconcileSource } from './reconciler.js';

/**
 * HOOK for qa-sampling (not filled yet: QA has not landed). Submitted assignments that QA has not
 * decided must each have their `assignment.submitted` event queued for the qa-sampling queue. The
 * outbox source already re-publishes such events within the outbox window; this source is for what it
 * cannot see — a submission older than the window, or one whose event was consumed but whose decision
 * was lost — and is where QA states its own truth:
 *
 *   SELECT the submitted assignments with no decision row, older than a grace period;
 *   for each, check its job in the qa-sampling queue (a deterministic id, e.g. `qa-<assignment id>`);
 *   re-add the missing ones with that id, and return how many.
 *
 * Register it in defaultReconcileSources (it is already listed, returning 0) and give it a test that
 * deletes the job and sees it re-added.
 */
export function undecidedSubmissionsSource(): ReconcileSource {
  return {
    kind: 'undecided_submission',
    async repair() {
      return 0;
    },
  };
}
