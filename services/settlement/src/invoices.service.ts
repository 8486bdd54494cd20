import { sql, type Db } from '@fairlabel/db';
import { conflict, decodeCursor, notFound, pageResult, unprocessable, writeAudit, type AuthContext } from '@fairlabel/http';
import { toCsv } from './csv.js';
import { accountId, lockLedger } from './ledger.js';
import { money } from './money.js';

/**
 * A client's invoice for a period and currency: the transactions on its receivable posted in the
 * period (cut by id like a pay run; the database refuses overlapping ranges and periods, so nothing is
 * billed twice), one line per job for its decided items (with how many a model decided), plus lines
 * for pay-floor top-ups the client funds and for adjustments and reversals.
 */
export async function createInvoice(db: Db, caller: AuthContext, body: { client_id: string; currency: string; period_start: string; period_end: string }, now: Date) {
  const start = new Date(body.period_start);
  const end = new Date(body.period_end);
  if (end.getTime() > now.getTime()) throw unprocessable('period_not_over', 'an invoice’s period must have ended', [{ path: 'body.period_end', message: 'in the future' }]);
  const client = await db.selectFrom('organizations').select('id').where('id', '=', body.client_id).where('kind', '=', 'client').executeTakeFirst();
  if (!client) throw unprocessable('unknown_client', `no client ${body.client_id}`, [{ path: 'body.client_id', message: 'not a client' }]);
  const id = await db.transaction().execute(async (trx) => {
    await lockLedger(trx);
    const last = await trx
      .selectFrom('invoices')
      .select(['id', 'period_end', 'through_transaction_id'])
      .where('client_id', '=', body.client_id)
      .where('currency', '=', body.currency)
      .orderBy('period_end', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (last && last.period_end.getTime() > start.getTime()) {
      throw conflict('period_overlaps', `the client's last ${body.currency} invoice (#${last.id}) ends ${last.period_end.toISOString()}`, [{ path: 'body.period_start', message: 'overlaps' }]);
    }
    const account = await accountId(trx, 'client', body.client_id, 'client_receivable', body.currency);
    const cut = await trx.selectFrom('ledger_transactions').select((eb) => eb.fn.max('id').as('id')).where('posted_at', '<', end).executeTakeFirst();
    const after = last?.through_transaction_id ?? 0;
    const through = Math.max(after, cut?.id ?? 0);
    const lines = await sql<{ kind: string; job_id: string | null; job_name: string | null; quantity: number; automated: number; amount: string }>`
      SELECT t.kind, t.job_id, j.name AS job_name, count(DISTINCT t.id)::int AS quantity,
        count(DISTINCT t.id) FILTER (WHERE (t.details->>'automated')::boolean)::int AS automated, sum(p.amount)::text AS amount
      FROM ledger_postings p JOIN ledger_transactions t ON t.id = p.transaction_id LEFT JOIN jobs j ON j.id = t.job_id
      WHERE p.account_id = ${account} AND p.transaction_id > ${after} AND p.transaction_id <= ${through}
      GROUP BY t.kind, t.job_id, j.name
      ORDER BY t.kind = 'client_charge' DESC, j.name NULLS LAST, t.kind
    `.execute(trx);
    const total = lines.rows.reduce((s, l) => s + BigInt(l.amount), 0n);
    const invoice = await trx
      .insertInto('invoices')
      .values({
        client_id: body.client_id,
        account_id: account,
        currency: body.currency,
        period_start: start,
        period_end: end,
        after_transaction_id: after,
        through_transaction_id: through,
        total: Number(total),
        created_by_key_id: caller.keyId,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (lines.rows.length) {
      await trx
        .insertInto('invoice_lines')
        .values(
          lines.rows.map((l, i) => ({
            invoice_id: invoice.id,
            line_no: i + 1,
            kind: l.kind,
            job_id: l.job_id,
            description:
              l.kind === 'client_charge'
                ? `Decided items of job ${l.job_name ?? l.job_id}`
                : l.kind === 'floor_topup'
                  ? 'Pay-floor top-ups for workers on your jobs'
                  : l.kind === 'adjustment'
                    ? 'Adjustments'
                    : l.kind === 'reversal'
                      ? 'Reversals'
                      : l.kind,
            quantity: l.quantity,
            automated_quantity: l.automated,
            amount: Number(l.amount),
          })),
        )
        .execute();
    }
    await writeAudit(trx, caller, { action: 'invoice.created', resourceType: 'invoice', resourceId: String(invoice.id), details: body });
    return invoice.id;
  });
  return getInvoice(db, null, id);
}

/** An invoice; `clientId` scopes it to that client (another client's invoice is a 404). */
export async function getInvoice(db: Db, clientId: string | null, id: number) {
  let q = db
    .selectFrom('invoices')
    .select(['id', 'client_id', 'currency', 'period_start', 'period_end', sql<string>`total::text`.as('total'), 'created_at'])
    .where('id', '=', id);
  if (clientId) q = q.where('client_id', '=', clientId);
  const inv = await q.executeTakeFirst();
  if (!inv) throw notFound('invoice');
  const lines = await db
    .selectFrom('invoice_lines')
    .select(['line_no', 'kind', 'job_id', 'description', 'quantity', 'automated_quantity', sql<string>`amount::text`.as('amount')])
    .where('invoice_id', '=', id)
    .orderBy('line_no')
    .execute();
  return { ...inv, total: money(inv.total), lines: lines.map((l) => ({ ...l, amount: money(l.amount) })) };
}

export function invoiceCsv(inv: Awaited<ReturnType<typeof getInvoice>>): string {
  return toCsv(
    [
      { name: 'invoice_id' },
      { name: 'client_id', text: true },
      { name: 'currency', text: true },
      { name: 'period_start' },
      { name: 'period_end' },
      { name: 'line_no' },
      { name: 'kind', text: true },
      { name: 'job_id', text: true },
      { name: 'description', text: true },
      { name: 'quantity' },
      { name: 'automated_quantity' },
      { name: 'amount_minor' },
    ],
    [
      ...inv.lines.map((l) => [inv.id, inv.client_id, inv.currency, inv.period_start, inv.period_end, l.line_no, l.kind, l.job_id, l.description, l.quantity, l.automated_quantity, l.amount]),
      [inv.id, inv.client_id, inv.currency, inv.period_start, inv.period_end, null, 'total', null, 'Total', null, null, inv.total],
    ],
  );
}

export async function listInvoices(db: Db, clientId: string | null, q: { cursor?: string | undefined; limit: number; client_id?: string | undefined }) {
  let query = db
    .selectFrom('invoices')
    .select(['id', 'client_id', 'currency', 'period_start', 'period_end', sql<string>`total::text`.as('total'), 'created_at'])
    .orderBy('id', 'desc')
    .limit(q.limit + 1);
  const scope = clientId ?? q.client_id;
  if (scope) query = query.where('client_id', '=', scope);
  if (q.cursor) query = query.where('id', '<', decodeCursor(q.cursor, ['int'])[0]);
  const page = pageResult(await query.execute(), q.limit, (r) => [r.id]);
  return { data: page.data.map((r) => ({ ...r, total: money(r.total) })), next_cursor: page.next_cursor };
}
