import { describe, expect, it } from 'vitest';
import { eventSchemas, queueNames, queuesFor, subscriptions, type EventName } from './index.js';

describe('event registry', () => {
  it('every subscription names a known event', () => {
    for (const q of queueNames) for (const e of subscriptions[q]) expect(Object.keys(eventSchemas)).toContain(e);
  });

  it('routes an event to each queue that subscribes to it', () => {
    expect(queuesFor('task.decided').sort()).toEqual(['settlement', 'task-dispatch', 'webhooks']);
    expect(queuesFor('assignment.submitted')).toContain('qa-sampling');
    // A purge's request goes to the owner of the answers only, and its report back to task-dispatch only.
    expect(queuesFor('job.data_purge_requested')).toEqual(['worker-assignment']);
    expect(queuesFor('job.answers_purged')).toEqual(['task-dispatch']);
  });

  it('validates payloads', () => {
    const schema = eventSchemas['assignment.submitted' as EventName];
    expect(schema.safeParse({ assignment_id: 1 }).success).toBe(false);
  });
});
