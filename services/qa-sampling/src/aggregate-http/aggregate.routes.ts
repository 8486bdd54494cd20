import type { Readable } from 'node:stream';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { aggregateQuery, aggregateResponseLineSchema, errorResponses } from '@fairlabel/contracts';
import { ApiError, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { aggregateBody, bodyFormatOf, DEFAULT_AGGREGATE_LIMITS, outcomeStream, responseFormatOf, type AggregateLimits } from './aggregate.service.js';

/**
 * Who may aggregate: clients (their MTurk or Label Studio histories), vendors (their workforce's),
 * ops and admin (the platform's own checks). Not workers (a worker key acts for one annotator, who has
 * no crowd to aggregate) and not finance. The route reads and writes no tenant data — the answer
 * depends on the body alone — but it spends CPU and memory, so it needs a valid key of these roles,
 * and one process runs at most `maxConcurrent` at a time.
 */
export const AGGREGATE_ROLES = ['client', 'vendor', 'ops', 'admin'] as const;

const RETRY_AFTER_BUSY_S = 10;

const bodyDescription =
  'NDJSON (`application/x-ndjson`): one object per line, `{"item": "...", "worker": "...", "label": "...", "gold": "..."}` (`gold` optional: the item\'s known answer; ' +
  'ids may be numbers, labels numbers or booleans). CSV (`text/csv`): a header line naming the columns (other columns are ignored), then one row per answer; an empty ' +
  '`gold` cell means not gold. Field and column names can be changed with `item_column`, `worker_column`, `label_column`, `gold_column` (e.g. an MTurk batch file: ' +
  '`item_column=HITId&worker_column=WorkerId&label_column=Answer.sentiment`).';

/**
 * POST /v1/qa/aggregate — "bring your own labels". Body and response are both streams: the body is
 * parsed as it arrives (never buffered whole; no body limit, row limits instead), the response is
 * written as the socket takes it.
 */
export function aggregateRoutes(limits: Partial<AggregateLimits> = {}): FastifyPluginAsyncZod {
  const resolved: AggregateLimits = { ...DEFAULT_AGGREGATE_LIMITS, ...limits };
  let running = 0;
  return async (app) => {
    // Scoped to this plugin: every body reaches the handler as the raw stream, whatever its type, so
    // the handler answers a wrong type with a 415 that says what to send (rather than buffering a JSON
    // body first). The rest of the API keeps fastify's buffered JSON parser and its body limit.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

    app.post(
      '/qa/aggregate',
      {
        config: { roles: AGGREGATE_ROLES },
        // The body is a stream read by the handler; its schema is for the document only.
        validatorCompiler: (route) => (route.httpPart === 'body' ? () => true : validatorCompiler(route as unknown as Parameters<typeof validatorCompiler>[0])),
        schema: {
          operationId: 'aggregateLabels',
          tags: ['qa'],
          summary: 'Aggregate your own labels (majority, accuracy-weighted, one-coin, Dawid–Skene), streamed',
          description:
            'Rows of (item, worker, label[, gold]) from anywhere — an MTurk batch file, a Label Studio export flattened to rows — in; each item\'s label with its ' +
            'confidence and each worker\'s estimated accuracy out. Gold rows anchor worker accuracy (a worker with `min_gold` gold answers is judged by gold, and ' +
            'excluded below `untrusted_below`). Reads and stores no tenant data. ' +
            `Response (\`format\` or Accept): NDJSON lines — one \`summary\`, then one \`worker\` line per worker, then one \`item\` line per item, in first-seen order — or CSV ` +
            '(columns type,id,label,confidence,agreement,answers,gold,accuracy,gold_total,gold_correct,trusted; a worker row then item rows). ' +
            `Limits: ${resolved.maxRows.toLocaleString('en')} rows (413 \`too_many_rows\`), ${resolved.maxLabels} labels (400 \`too_many_labels\`), ` +
            `${resolved.maxWorkers.toLocaleString('en')} workers (400 \`too_many_workers\`); one_coin and dawid_skene also items × labels ≤ ${resolved.maxPosteriorCells.toLocaleString('en')} ` +
            `and workers × labels² ≤ ${resolved.maxConfusionCells.toLocaleString('en')} (422 \`too_large_for_method\`); fields ≤ 512 characters. A bad line is a 400 ` +
            '(`malformed_body`, `invalid_row`, `invalid_csv_header`) naming its line; an empty body 400 `empty_body`; another Content-Type 415; while the process ' +
            'is already aggregating, 429 `aggregate_busy` with Retry-After.',
          // Also read: application/jsonl, application/x-jsonlines (NDJSON by other names).
          consumes: ['application/x-ndjson', 'text/csv'],
          body: z.string().describe(bodyDescription),
          querystring: aggregateQuery,
          response: {
            200: {
              description: 'The outcome, streamed',
              content: {
                'application/x-ndjson': { schema: aggregateResponseLineSchema.describe('One line of the NDJSON response (the document shows one line).') },
                'text/csv': { schema: z.string().describe('type,id,label,confidence,agreement,answers,gold,accuracy,gold_total,gold_correct,trusted') },
              },
            },
            ...errorResponses(413, 415, 422),
          },
        },
      },
      async (request, reply) => {
        const body = request.body as unknown as Readable | undefined;
        const format = bodyFormatOf(request.headers['content-type']);
        if (running >= resolved.maxConcurrent) {
          throw new ApiError(429, 'aggregate_busy', `this server is already running ${running} aggregation(s); retry after ${RETRY_AFTER_BUSY_S} s`, [], {
            'retry-after': String(RETRY_AFTER_BUSY_S),
          });
        }
        running++;
        let released = false;
        const release = () => {
          if (!released) {
            released = true;
            running--;
          }
        };
        // Released when the response is done or the client has gone, whichever comes first.
        reply.raw.once('close', release);
        try {
          const outcome = await aggregateBody({ body, format, query: request.query, limits: resolved });
          const out = responseFormatOf(request.query.format, request.headers.accept);
          reply
            .header('x-aggregate-method', outcome.method)
            .header('x-aggregate-rows', String(outcome.rows))
            .header('x-aggregate-items', String(outcome.items))
            .header('x-aggregate-workers', String(outcome.workers))
            .type(out === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
          // A stream is not serialized: the response schema documents its lines.
          return reply.send(outcomeStream(outcome, out) as never);
        } catch (err) {
          release();
          // A refusal before the whole body was read: the rest is not wanted, and the connection must
          // not be reused with unread bytes on it.
          if (body && !body.readableEnded) reply.header('connection', 'close');
          throw err;
        }
      },
    );
  };
}
