// Events the `settlement` queue consumes: QA's decisions become ledger transactions (an earning per
// decided assignment, a charge per decided task, review pay per review). Settlement publishes none yet.
export const settlementEvents = {};
export const settlementSubscribes: string[] = ['assignment.decided', 'task.decided', 'review.completed'];
