// `fairlabel <command>` (in this repo: `pnpm fl <command>`): the client command line, on the SDK, over
// HTTP with an API key. The operator CLI `pnpm fairlabel` (services/gateway/src/cli.ts) is a different
// tool: it talks to Postgres directly to bootstrap an installation and manage keys, needs no key, and
// stays as it is. This one is what a client company or vendor runs against a gateway they do not host.
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createFairlabel, unwrap, type ExportQuery, type Fairlabel, type JobProgress, type Schemas } from '../client.js';
import { FairlabelError } from '../errors.js';
import { formatOfFile, type ImportProgress, type ImportResult } from '../import.js';
import { bar, bytes, count, perSecond } from './format.js';

export const usage = `usage: fairlabel <command> [options]        (in this repository: pnpm fl <command> …)

  jobs [--status STATUS]                      list your jobs
  create-job --config FILE --name NAME --pay MINOR --price MINOR --currency CUR
             [--overlap N] [--instructions TEXT] [--lease-seconds N]
                                              a job from a Label Studio XML config (.xml) or a JSON file:
                                              a fairlabel label config, or a whole job body (flags override it);
                                              prints the job id on the last line
  activate JOB                                activate a draft job once it has tasks (or resume a paused one)
  import JOB FILE [--format json|ndjson|csv] [--labelstudio] [--skip-errors] [--idempotency-key KEY]
                                              stream a file of tasks in, with a progress bar (bytes/s, rows/s)
  watch JOB [--interval SECONDS]              follow a job's progress until it is completed or cancelled
  export JOB --out FILE|- [--format jsonl|csv|coco|labelstudio|yolo|conll] [--include-annotations] [--control NAME]
                                              download a job's results (streamed) to a file, or - for stdout
  webhooks                                    list your webhook endpoints
  deliveries ENDPOINT [--status pending|succeeded|failed|cancelled]
                                              an endpoint's deliveries, newest first
  redeliver ENDPOINT DELIVERY                 send a delivery again now

options for every command:
  --url URL          the gateway (default: $FAIRLABEL_URL, else http://127.0.0.1:3000)
  --api-key KEY      an API key (default: $FAIRLABEL_API_KEY)
  --json             print what the API answered as JSON instead of text
  -h, --help

exit codes: 0 done, 1 the API refused or could not be reached (the error's code is printed), 2 wrong usage`;

/** Wrong usage: exit code 2, with the usage hint. */
export class UsageError extends Error {}

export interface Io {
  out: (line: string) => void;
  err: (text: string) => void;
  /** Whether stderr is a terminal: the progress bar redraws one line there, else prints a line now and then. */
  tty: boolean;
  env: Record<string, string | undefined>;
  /** Stdout as a stream, for `export --out -`. */
  stdout: NodeJS.WritableStream;
}

const options = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  status: { type: 'string' },
  config: { type: 'string' },
  name: { type: 'string' },
  pay: { type: 'string' },
  price: { type: 'string' },
  currency: { type: 'string' },
  overlap: { type: 'string' },
  instructions: { type: 'string' },
  'lease-seconds': { type: 'string' },
  format: { type: 'string' },
  labelstudio: { type: 'boolean', default: false },
  'skip-errors': { type: 'boolean', default: false },
  'idempotency-key': { type: 'string' },
  interval: { type: 'string' },
  out: { type: 'string' },
  'include-annotations': { type: 'boolean', default: false },
  control: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

function integer(name: string, value: string | undefined, required: true): number;
function integer(name: string, value: string | undefined, required?: false): number | undefined;
function integer(name: string, value: string | undefined, required = false): number | undefined {
  if (value === undefined) {
    if (required) throw new UsageError(`--${name} is required`);
    return undefined;
  }
  if (!/^-?\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number (minor units for money), not ${JSON.stringify(value)}`);
  return Number(value);
}

function positional(positionals: string[], index: number, what: string): string {
  const value = positionals[index];
  if (!value) throw new UsageError(`missing ${what}`);
  return value;
}

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}`);
  return value as T;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

type CreateJob = Schemas['CreateJobInput'];

/** The job body from --config (XML: Label Studio; JSON: a label config, or a whole job body) and the flags. */
async function jobBody(values: Values): Promise<CreateJob> {
  if (!values.config) throw new UsageError('--config FILE is required (a Label Studio .xml, or .json)');
  const text = await readFile(values.config, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${values.config}: ${error.code ?? error.message}`);
  });
  let base: Partial<CreateJob>;
  if (extname(values.config).toLowerCase() === '.xml' || text.trimStart().startsWith('<')) {
    base = { label_config: text, label_config_format: 'labelstudio' };
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`${values.config} is neither Label Studio XML nor JSON: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`${values.config}: expected a JSON object`);
    base = 'label_config' in parsed ? (parsed as Partial<CreateJob>) : { label_config: parsed as CreateJob['label_config'] };
  }
  const flags: Partial<CreateJob> = {
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values.pay !== undefined ? { pay_per_annotation: integer('pay', values.pay) } : {}),
    ...(values.price !== undefined ? { client_price_per_item: integer('price', values.price) } : {}),
    ...(values.currency !== undefined ? { currency: values.currency.toUpperCase() } : {}),
    ...(values.overlap !== undefined ? { overlap: integer('overlap', values.overlap) } : {}),
    ...(values.instructions !== undefined ? { instructions: values.instructions } : {}),
    ...(values['lease-seconds'] !== undefined ? { lease_seconds: integer('lease-seconds', values['lease-seconds']) } : {}),
  };
  const body = { ...base, ...flags };
  for (const [key, flag] of [['name', 'name'], ['pay_per_annotation', 'pay'], ['client_price_per_item', 'price'], ['currency', 'currency']] as const) {
    if (body[key] === undefined) throw new UsageError(`--${flag} is required (or ${key} in the JSON job body)`);
  }
  return body as CreateJob;
}

function progressLine(p: JobProgress): string {
  const { tasks, assignments } = p;
  const done = tasks.decided + tasks.cancelled;
  const share = tasks.total ? done / tasks.total : 0;
  const parts = [
    `${p.status.padEnd(9)} ${bar(share)} ${done}/${tasks.total} decided`,
    `open ${tasks.open}`,
    `leased ${assignments.leased}`,
    `awaiting QA ${assignments.submitted}`,
    `accepted ${assignments.accepted}`,
    `rejected ${assignments.rejected}`,
  ];
  if (p.agreement !== null) parts.push(`agreement ${p.agreement.toFixed(2)}`);
  if (p.rate_per_hour !== null) parts.push(`${count(Math.round(p.rate_per_hour))}/h`);
  if (p.eta) parts.push(`eta ${p.eta}`);
  return parts.join('  ');
}

function importLine(p: ImportProgress): string {
  const seconds = p.elapsedMs / 1000;
  const size = p.totalBytes ? `${bar(p.bytes / p.totalBytes)} ${bytes(p.bytes)} / ${bytes(p.totalBytes)}` : bytes(p.bytes);
  return `${size}  ${perSecond(p.bytes, seconds, bytes, 'B')}  ${count(p.rows)} rows  ${perSecond(p.rows, seconds, (n) => `${count(Math.round(n))} rows`, 'rows')}`;
}

async function run(fl: Fairlabel, command: string, values: Values, positionals: string[], io: Io): Promise<void> {
  const print = (data: unknown, text: () => string | string[]) => {
    if (values.json) io.out(JSON.stringify(data, null, 2));
    else for (const line of [text()].flat()) io.out(line);
  };
  switch (command) {
    case 'jobs': {
      const status = oneOf('status', values.status, ['draft', 'active', 'paused', 'completed', 'cancelled'] as const);
      const jobs = await collect(fl.paginate('/v1/jobs', { query: { limit: 200, ...(status ? { status } : {}) } }));
      print(jobs, () => (jobs.length ? jobs.map((j) => [j.id, j.status.padEnd(9), j.name].join('  ')) : 'no jobs'));
      return;
    }
    case 'create-job': {
      const body = await jobBody(values);
      const job = await unwrap(fl.api.POST('/v1/jobs', { body }));
      const controls = (job.label_config as { controls?: { name: string; type: string }[] }).controls ?? [];
      print(job, () => [`created job "${job.name}" (${job.status}), controls: ${controls.map((c) => `${c.name} (${c.type})`).join(', ')}`, job.id]);
      return;
    }
    case 'activate': {
      const id = positional(positionals, 0, 'JOB (the job id)');
      const current = await unwrap(fl.api.GET('/v1/jobs/{id}', { params: { path: { id } } }));
      const job =
        current.status === 'paused'
          ? await unwrap(fl.api.POST('/v1/jobs/{id}/resume', { params: { path: { id } } }))
          : await unwrap(fl.api.POST('/v1/jobs/{id}/activate', { params: { path: { id } } }));
      print(job, () => `job ${job.id} is ${job.status}`);
      return;
    }
    case 'import': {
      const id = positional(positionals, 0, 'JOB (the job id)');
      const file = positional(positionals, 1, 'FILE (the tasks to import)');
      const format = oneOf('format', values.format, ['json', 'ndjson', 'csv'] as const) ?? formatOfFile(file);
      if (!format) throw new UsageError(`cannot tell the format of ${file} from its extension: pass --format json, ndjson or csv`);
      // A terminal gets one bar redrawn in place; a log gets a line a second and the last one once the
      // import is accepted (a refused import ends with the error, not with a full bar).
      let lastLine = 0;
      let last: ImportProgress | undefined;
      const onProgress = (p: ImportProgress) => {
        last = p;
        if (io.tty) io.err(`\r\x1b[2K${importLine(p)}`);
        else if (!p.done && p.elapsedMs - lastLine >= 1000) {
          lastLine = p.elapsedMs;
          io.err(`${importLine(p)}\n`);
        }
      };
      let result: ImportResult;
      const started = performance.now();
      try {
        result = await fl.importFile(id, file, {
          format,
          labelStudio: values.labelstudio ?? false,
          onError: values['skip-errors'] ? 'skip' : 'reject',
          ...(values['idempotency-key'] ? { idempotencyKey: values['idempotency-key'] } : {}),
          onProgress,
        });
      } catch (error) {
        if (io.tty && last) io.err('\n');
        throw error;
      }
      // The last line's rates run to the report: the server has read and stored every row by then.
      if (last) io.err(`${io.tty ? '\r\x1b[2K' : ''}${importLine({ ...last, elapsedMs: performance.now() - started })}\n`);
      print(result, () => [
        `imported ${file} (${result.format}): received ${count(result.received)}, created ${count(result.created)}, duplicates ${count(result.duplicates)}, rejected ${count(result.rejected)}`,
        ...result.errors.map((e) => `  line ${e.line}${e.external_id ? ` (${e.external_id})` : ''}: ${e.message}`),
      ]);
      return;
    }
    case 'watch': {
      const id = positional(positionals, 0, 'JOB (the job id)');
      const seconds = values.interval === undefined ? 2 : Number(values.interval);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError('--interval must be a positive number of seconds');
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      try {
        for await (const p of fl.watchProgress(id, { intervalMs: seconds * 1000, signal: stop.signal })) {
          if (values.json) io.out(JSON.stringify(p));
          else io.out(`${new Date().toISOString().slice(11, 19)}  ${progressLine(p)}`);
        }
      } finally {
        process.off('SIGINT', onSignal);
      }
      return;
    }
    case 'export': {
      const id = positional(positionals, 0, 'JOB (the job id)');
      if (!values.out) throw new UsageError('--out FILE is required (- writes to stdout)');
      const format = oneOf('format', values.format, ['jsonl', 'csv', 'coco', 'labelstudio', 'yolo', 'conll'] as const);
      const query: ExportQuery = { ...(format ? { format } : {}), ...(values['include-annotations'] ? { include: 'annotations' } : {}), ...(values.control ? { control: values.control } : {}) };
      const response = await fl.exportResults(id, query);
      let written = 0;
      const counter = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          written += chunk.byteLength;
          controller.enqueue(chunk);
        },
      });
      const source = response.body ? response.body.pipeThrough(counter) : new Blob([]).stream();
      const target = values.out === '-' ? io.stdout : createWriteStream(values.out);
      await pipeline(source, target as Writable, ...(values.out === '-' ? [{ end: false }] : []));
      if (values.out !== '-') {
        const summary = { file: values.out, bytes: written, format: format ?? 'jsonl' };
        print(summary, () => `wrote ${bytes(written)} of ${summary.format} to ${values.out}`);
      }
      return;
    }
    case 'webhooks': {
      const endpoints = await collect(fl.paginate('/v1/webhooks', { query: { limit: 100 } }));
      print(endpoints, () => (endpoints.length ? endpoints.map((e) => [e.id, e.url, e.event_types.join(',')].join('  ')) : 'no webhook endpoints'));
      return;
    }
    case 'deliveries': {
      const id = positional(positionals, 0, 'ENDPOINT (the webhook endpoint id)');
      const status = oneOf('status', values.status, ['pending', 'succeeded', 'failed', 'cancelled'] as const);
      const deliveries = await collect(fl.paginate('/v1/webhooks/{id}/deliveries', { path: { id }, query: { limit: 100, ...(status ? { status } : {}) } }));
      print(deliveries, () =>
        deliveries.length
          ? deliveries.map((d) => [d.id, d.status.padEnd(9), d.event_type, `${d.attempt_count} attempt${d.attempt_count === 1 ? '' : 's'}`, d.created_at].join('  '))
          : 'no deliveries',
      );
      return;
    }
    case 'redeliver': {
      const id = positional(positionals, 0, 'ENDPOINT (the webhook endpoint id)');
      const deliveryId = positional(positionals, 1, 'DELIVERY (the delivery id)');
      const delivery = await unwrap(fl.api.POST('/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver', { params: { path: { id, deliveryId } } }));
      print(delivery, () => `delivery ${delivery.id} (${delivery.event_type}, webhook-id ${delivery.message_id}) queued again: ${delivery.status}`);
      return;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

/** Runs one command line; resolves with the exit code. Everything it prints goes through `io`. */
export async function main(argv: string[], io: Io): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    const [command, ...rest] = positionals;
    if (values.help) {
      io.out(usage);
      return 0;
    }
    if (!command) {
      io.err(`${usage}\n`);
      return 2;
    }
    const apiKey = values['api-key'] ?? io.env.FAIRLABEL_API_KEY;
    if (!apiKey) throw new UsageError('no API key: set FAIRLABEL_API_KEY or pass --api-key');
    const url = values.url ?? io.env.FAIRLABEL_URL ?? 'http://127.0.0.1:3000';
    if (!/^https?:\/\//.test(url)) throw new UsageError(`--url / FAIRLABEL_URL must be an http(s) URL, not ${JSON.stringify(url)}`);
    await run(createFairlabel({ baseUrl: url, apiKey }), command, values, rest, io);
    return 0;
  } catch (error) {
    if (error instanceof FairlabelError) {
      io.err(`error: ${error.describe()}\n`);
      if (error.status === 401) io.err('check FAIRLABEL_API_KEY / --api-key\n');
      if (error.code === 'unreachable') io.err('is the gateway running? set FAIRLABEL_URL / --url\n');
      return 1;
    }
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`error: ${(error as Error).message}\nrun \`fairlabel --help\` for the commands and their options\n`);
      return 2;
    }
    io.err(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
