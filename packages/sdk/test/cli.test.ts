import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { unwrap } from '../src/index.js';
import { cliTest as test } from './fixtures.js';

const sentimentXml = `<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
  </Choices>
</View>`;

async function scratch(files: Record<string, string>): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'sdk-cli-'));
  const paths: Record<string, string> = {};
  for (const [name, content] of Object.entries(files)) {
    paths[name] = join(dir, name);
    await writeFile(paths[name], content);
  }
  return paths;
}

const lastLine = (text: string) => text.trimEnd().split('\n').at(-1)!;

// Each command runs once as a real process (the package's bin); the rest run main() in this process,
// which is the same code without the start-up cost of a process.
describe('fairlabel CLI', () => {
  test('create-job from Label Studio XML: the job id on the last line, the controls from the XML', async ({ cli, client, sdk }) => {
    const files = await scratch({ 'config.xml': sentimentXml });
    const run = await cli(client, ['create-job', '--config', files['config.xml']!, '--name', 'Reviews', '--pay', '5', '--price', '20', '--currency', 'usd', '--overlap', '3']);
    expect(run.code, run.stderr).toBe(0);
    const id = lastLine(run.stdout);
    expect(run.stdout).toContain('controls: sentiment (choices)');
    const job = await unwrap(sdk(client).api.GET('/v1/jobs/{id}', { params: { path: { id } } }));
    expect(job).toMatchObject({ id, name: 'Reviews', status: 'draft', overlap: 3, currency: 'USD', pay_per_annotation: 5, client_price_per_item: 20 });
  });

  test('create-job from a JSON label config, import, activate; jobs lists it', async ({ cli, client }) => {
    const config = {
      version: 2,
      objects: [{ name: 'item', type: 'text', value: '$text' }],
      controls: [{ name: 'label', type: 'choices', to_name: 'item', choices: ['cat', 'dog'] }],
    };
    const files = await scratch({ 'config.json': JSON.stringify(config), 'tasks.csv': 'external_id,text\na,"a cat, maybe"\nb,a dog\n' });
    const run = await cli.inProcess(client, ['create-job', '--config', files['config.json']!, '--name', 'Pets', '--pay', '3', '--price', '9', '--currency', 'EUR', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const job = JSON.parse(run.stdout) as { id: string; status: string };
    expect(job.status).toBe('draft');
    const imported = await cli.inProcess(client, ['import', job.id, files['tasks.csv']!, '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ format: 'csv', created: 2 });
    const activated = await cli.inProcess(client, ['activate', job.id]);
    expect(activated).toMatchObject({ code: 0, stdout: `job ${job.id} is active\n` });
    const list = await cli.inProcess(client, ['jobs', '--status', 'active']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.trim().split('\n')).toEqual([`${job.id}  active     Pets`]);
  });

  test('import streams a file with progress (bytes/s, rows/s) and prints the report; export writes the results to a file', async ({ cli, client, seed }) => {
    const job = await seed.job(client);
    const rows = Array.from({ length: 50 }, (_, i) => JSON.stringify({ external_id: `cli-${i}`, data: { text: `text ${i}` } }));
    const files = await scratch({ 'tasks.ndjson': rows.join('\n') + '\n' });
    const run = await cli(client, ['import', job.id, files['tasks.ndjson']!]);
    expect(run.code, run.stderr).toBe(0);
    expect(lastLine(run.stdout)).toBe(`imported ${files['tasks.ndjson']} (ndjson): received 50, created 50, duplicates 0, rejected 0`);
    // Not a terminal: the progress is printed as lines, the last one for the whole file.
    const size = (rows.join('\n') + '\n').length;
    expect(lastLine(run.stderr)).toMatch(new RegExp(`^\\[#{20}\\] 100% ${size >= 1024 ? '[\\d.]+ KB' : `${size} B`} / .+  .+/s  50 rows  .+ rows/s$`));

    const out = join(files['tasks.ndjson']!, '..', 'results.jsonl');
    const exported = await cli(client, ['export', job.id, '--out', out]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/^wrote .+ of jsonl to /);
    const lines = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { external_id: string });
    expect(lines.map((l) => l.external_id).sort()).toEqual(rows.map((_, i) => `cli-${i}`).sort());

    // To stdout (`--out -`): the CSV itself, nothing else.
    const csv = await cli.inProcess(client, ['export', job.id, '--out', '-', '--format', 'csv']);
    expect(csv.code, csv.stderr).toBe(0);
    const csvLines = csv.stdout.trim().split('\n');
    expect(csvLines).toHaveLength(51);
    expect(csvLines[0]).toContain('external_id');
  });

  test('watch follows a job until it ends: a line per change, exit 0 when it is cancelled', async ({ cli, client, seed, sdk }) => {
    const job = await seed.activeJob(2, { owner: client });
    const watch = cli.start(client, ['watch', job.id, '--interval', '0.1']);
    await expect.poll(() => watch.output(), { timeout: 15_000 }).toMatch(/active +\[-{20}\] +0% 0\/2 decided {2}open 2/);
    await unwrap(sdk(client).api.POST('/v1/jobs/{id}/cancel', { params: { path: { id: job.id } } }));
    const done = await watch.exited;
    expect(done.code, done.stderr).toBe(0);
    expect(lastLine(done.stdout)).toMatch(/ cancelled /);
  });

  test('webhooks lists the endpoints, deliveries an endpoint\'s deliveries, redeliver sends one again', async ({ cli, client, delivered, receiver }) => {
    const { endpoint, path, message } = await delivered(client);
    const list = await cli(client, ['webhooks']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.trim()).toBe(`${endpoint.id}  ${receiver.baseUrl}${path}  job.activated`);

    const deliveries = await cli.inProcess(client, ['deliveries', endpoint.id, '--json']);
    expect(deliveries.code, deliveries.stderr).toBe(0);
    const [delivery] = JSON.parse(deliveries.stdout) as { id: string; message_id: string; status: string }[];
    expect(delivery).toMatchObject({ message_id: message.headers['webhook-id'], status: 'succeeded' });

    const again = await cli.inProcess(client, ['redeliver', endpoint.id, delivery!.id]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`delivery ${delivery!.id} (job.activated, webhook-id ${message.headers['webhook-id']}) queued again`);
    await expect.poll(() => receiver.at(path).length, { timeout: 15_000 }).toBe(2);
  });

  test('a refusal prints the API code and message and exits 1 (the process)', async ({ cli, client, seed }) => {
    const other = await seed.job(await seed.client());
    const files = await scratch({ 'tasks.json': '[]' });
    const notYours = await cli(client, ['import', other.id, files['tasks.json']!]);
    expect(notYours).toMatchObject({ code: 1, stdout: '' });
    expect(notYours.stderr).toMatch(new RegExp(`^error: 404 not_found: .+ \\(POST /v1/jobs/${other.id}/tasks\\)\\n$`));
  });

  test('more refusals: exit 1 with the code, and what to check', async ({ cli, client }) => {
    const files = await scratch({ 'bad.xml': '<View><Ellipse name="e" toName="i"/><Image name="i" value="$i"/></View>' });
    const badConfig = await cli.inProcess(client, ['create-job', '--config', files['bad.xml']!, '--name', 'x', '--pay', '1', '--price', '1', '--currency', 'USD']);
    expect(badConfig.code).toBe(1);
    expect(badConfig.stderr).toMatch(/^error: 422 invalid_label_config: .+Ellipse/s);

    const badKey = await cli.inProcess(null, ['jobs', '--api-key', 'fl_not_a_key']);
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toMatch(/^error: 401 unauthorized: .+\ncheck FAIRLABEL_API_KEY \/ --api-key\n$/);

    const unreachable = await cli.inProcess(client, ['jobs'], { FAIRLABEL_URL: 'http://127.0.0.1:1' });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^error: unreachable: could not reach http:\/\/127\.0\.0\.1:1 .+\nis the gateway running\? set FAIRLABEL_URL \/ --url\n$/);
  });

  test('wrong usage exits 2 and says what is wrong, before any request', async ({ cli, client }) => {
    const noKey = await cli.inProcess(null, ['jobs']);
    expect(noKey).toMatchObject({ code: 2, stdout: '' });
    expect(noKey.stderr).toMatch(/^error: no API key: set FAIRLABEL_API_KEY or pass --api-key\n/);
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['import', 'some-job'], /missing FILE/],
      [['create-job', '--config', '/nonexistent.xml', '--name', 'x'], /cannot read \/nonexistent\.xml: ENOENT/],
      [['jobs', '--bogus'], /Unknown option '--bogus'/],
      [['export', 'some-job'], /--out FILE is required/],
      [['export', 'some-job', '--out', '-', '--format', 'xml'], /--format must be one of jsonl, csv, coco, labelstudio, yolo, conll/],
    ];
    for (const [args, message] of cases) {
      const run = await cli.inProcess(client, args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(message);
      expect(run.stderr, args.join(' ')).toMatch(/\nrun `fairlabel --help` for the commands and their options\n$/);
    }
    const help = await cli.inProcess(null, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: fairlabel <command>/);
  });
});
