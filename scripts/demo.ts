// The demonstration workload run by `pnpm start --demo` (or `pnpm demo [base url]` against a running
// stack): a client company submits an image-classification job, two vendors' workers in cities and
// villages claim and annotate every item, and the client watches progress. It uses only the public
// API, except for the first admin key, which it issues the way `pnpm fairlabel bootstrap` does.
import { loadConfigOrExit } from '@fairlabel/config';
import { createDb, createPool, ensureDatabase, migrateToLatest } from '@fairlabel/db';
import { issueApiKey } from '../services/gateway/src/api-keys.service.js';
import { createOrganization } from '../services/gateway/src/organizations.service.js';

const config = loadConfigOrExit();
const base = process.argv[2] ?? `http://127.0.0.1:${config.PORT}`;
const log = (msg: string) => console.log(`[demo] ${msg}`);

async function api<T = Record<string, unknown>>(key: string, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const parsed = text ? (JSON.parse(text) as T) : ({} as T);
  if (res.status >= 400) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
  return { status: res.status, body: parsed };
}

async function adminKey(): Promise<string> {
  await ensureDatabase(config.DATABASE_URL);
  const db = createDb(createPool(config.DATABASE_URL, 2));
  try {
    await migrateToLatest(db);
    const platform = await db.selectFrom('organizations').select('id').where('kind', '=', 'platform').executeTakeFirst();
    const orgId = platform?.id ?? (await createOrganization(db, { name: 'platform', kind: 'platform' })).id;
    return (await issueApiKey(db, { organizationId: orgId, role: 'admin', name: 'demo' })).key;
  } finally {
    await db.destroy();
  }
}

const admin = await adminKey();
const suffix = new Date().toISOString().slice(11, 19);

// Organizations and their keys.
const client = (await api<{ id: string }>(admin, 'POST', '/v1/organizations', { name: `Acme Vision ${suffix}`, kind: 'client' })).body;
const clientKey = (await api<{ key: string }>(admin, 'POST', `/v1/organizations/${client.id}/api-keys`, { role: 'client', name: 'demo' })).body.key;
log(`client organization ${client.id}`);

const vendors = [
  { name: `Village Labels ${suffix}`, workers: [
    { display_name: 'Asha', region: { country: 'IN', province: 'KA', city_tier: 5, area: 'rural' }, timezone: 'Asia/Kolkata', accommodations: { lease_factor: 1.5 } },
    { display_name: 'Ravi', region: { country: 'IN', province: 'KA', city_tier: 4, area: 'rural' }, timezone: 'Asia/Kolkata' },
    { display_name: 'Meena', region: { country: 'IN', province: 'TN', city_tier: 3, area: 'urban' }, timezone: 'Asia/Kolkata' },
  ] },
  { name: `Tier3 Annotate ${suffix}`, workers: [
    { display_name: 'Joseph', region: { country: 'KE', province: 'NKU', city_tier: 3, area: 'urban' }, timezone: 'Africa/Nairobi' },
    { display_name: 'Amina', region: { country: 'KE', province: 'KSM', city_tier: 4, area: 'rural' }, timezone: 'Africa/Nairobi' },
    { display_name: 'Grace', region: { country: 'KE', province: 'NBO', city_tier: 1, area: 'urban' }, timezone: 'Africa/Nairobi' },
  ] },
];
const workerKeys: { name: string; key: string }[] = [];
for (const v of vendors) {
  const org = (await api<{ id: string }>(admin, 'POST', '/v1/organizations', { name: v.name, kind: 'vendor' })).body;
  const vendorKey = (await api<{ key: string }>(admin, 'POST', `/v1/organizations/${org.id}/api-keys`, { role: 'vendor', name: 'demo' })).body.key;
  for (const w of v.workers) {
    const worker = (await api<{ id: string }>(vendorKey, 'POST', '/v1/workers', w)).body;
    await api(vendorKey, 'PUT', `/v1/workers/${worker.id}/skills/image_classification`, { level: 2 });
    const key = (await api<{ key: string }>(vendorKey, 'POST', `/v1/workers/${worker.id}/api-keys`, { name: 'demo' })).body.key;
    workerKeys.push({ name: `${w.display_name} (${w.region.country}, tier ${w.region.city_tier} ${w.region.area})`, key });
  }
  log(`vendor ${v.name}: ${v.workers.length} workers with the image_classification skill at level 2`);
}

// The job: 60 images, three annotations each. Its label config is Label Studio XML, as a team coming
// from Label Studio has it: one Choices control named `animal` on the image.
const labels = ['cat', 'dog', 'bird', 'other'];
const labelConfigXml = `<View>
  <Image name="photo" value="$image"/>
  <Choices name="animal" toName="photo" required="true">
${labels.map((l) => `    <Choice value="${l}"/>`).join('\n')}
  </Choices>
</View>`;
const job = (
  await api<{ id: string }>(clientKey, 'POST', '/v1/jobs', {
    name: 'Pet photos',
    label_config: labelConfigXml,
    label_config_format: 'labelstudio',
    instructions: 'Which animal is in the photo?',
    required_skill: 'image_classification',
    min_level: 1,
    overlap: 3,
    pay_per_annotation: 4,
    client_price_per_item: 25,
    currency: 'USD',
    lease_seconds: 300,
  })
).body;
const items = Array.from({ length: 60 }, (_, i) => JSON.stringify({ external_id: `photo-${i}`, data: { image: `https://example.org/pets/${i}.jpg` } })).join('\n');
const imported = (await api<{ created: number; duplicates: number }>(clientKey, 'POST', `/v1/jobs/${job.id}/tasks`, items, 'application/x-ndjson')).body;
await api(clientKey, 'POST', `/v1/jobs/${job.id}/activate`, {});
log(`job ${job.id}: imported ${imported.created} items (overlap 3) and activated`);

// Every worker claims and annotates until nothing is left for them.
let annotations = 0;
await Promise.all(
  workerKeys.map(async (w) => {
    for (;;) {
      const res = await fetch(`${base}/v1/assignments/next`, { method: 'POST', headers: { authorization: `Bearer ${w.key}` } });
      if (res.status === 204) return;
      if (res.status !== 200 && res.status !== 201) throw new Error(`claim for ${w.name}: ${res.status} ${await res.text()}`);
      const a = (await res.json()) as { id: number; pay: { amount: number; hourly_rate: number | null } };
      // An answer is keyed by control name; a choices control answers `{choices: [...]}`.
      const answer = { animal: { choices: [labels[Math.floor(Math.random() * labels.length)]] } };
      await api(w.key, 'POST', `/v1/assignments/${a.id}/submit`, { answer, time_spent_ms: 4000 + Math.floor(Math.random() * 8000) });
      annotations++;
    }
  }),
);
log(`${workerKeys.length} workers submitted ${annotations} annotations`);

const progress = (await api<Record<string, unknown>>(clientKey, 'GET', `/v1/jobs/${job.id}/progress`)).body;
log(`progress: ${JSON.stringify(progress)}`);
const me = (await api<Record<string, unknown>>(workerKeys[0]!.key, 'GET', '/v1/me')).body;
log(`${workerKeys[0]!.name} sees: ${JSON.stringify(me)}`);
log(`every submission is now an assignment.submitted event waiting for QA on the qa-sampling queue`);
log(`explore the API at ${base}/docs (admin key: ${admin})`);
