// Events the `settlement` queue consumes (it posts ledger transactions for decisions).
export const settlementEvents = {};
export const settlementSubscribes: string[] = ['task.decided'];
