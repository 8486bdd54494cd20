/**
 * Whether an error means "our database is not reachable right now" (stopped, restarting, failing
 * over, out of connections, or the network to it is down) rather than "this statement is wrong".
 * Callers answer such errors differently from every other failure: the API with 503 and Retry-After
 * instead of 500; queue consumers and webhook deliveries by retrying soon without spending an attempt
 * or blaming the receiver. The error itself is the same for every caller: the condition passes when
 * the outage ends.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  return check(err, 0);
}

/**
 * Whether an error is Postgres failing a transaction that would succeed if run again: deadlock_detected
 * (the server broke a lock cycle by failing this one) or serialization_failure. Unlike
 * isDatabaseUnavailable, the server is up; only this attempt lost.
 */
export function isTransientDbError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

// SQLSTATEs of a server that is going away or not accepting work: admin_shutdown, crash_shutdown,
// cannot_connect_now (starting up / shutting down / in recovery), too_many_connections, and class 08
// (connection exceptions).
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006']);
// Socket-level failures of the connection to Postgres.
const UNAVAILABLE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);
// node-postgres reports a lost or unobtainable connection by message only.
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error and is not queryable/i,
  /Client was closed and is not queryable/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
];

function check(err: unknown, depth: number): boolean {
  if (!err || typeof err !== 'object' || depth > 5) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (UNAVAILABLE_SQLSTATES.has(e.code) || UNAVAILABLE_SOCKET_CODES.has(e.code))) return true;
  if (typeof e.message === 'string' && UNAVAILABLE_MESSAGES.some((re) => re.test(e.message as string))) return true;
  // Node reports a connect to several addresses (localhost: ::1 and 127.0.0.1) as an AggregateError.
  if (Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every((inner) => check(inner, depth + 1))) return true;
  return check(e.cause, depth + 1);
}
