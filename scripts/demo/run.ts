import { Api, ApiError, ops, type Assignment, type CreateJob, type ExportedTask, type FairPay, type PayRun, type Progress, type Reconciliation, type Statement } from './api.js';
import { WebhookReceiver } from './receiver.js';
import { answerFor, CLASSES, drawItems, drawWorkers, ENTITY_LABELS, BOX_LABELS, isRight, JOB_KINDS, seededRng, SKILLS, thinkMs, type ItemCounts, type JobKind, type Rng, type SimItem, type SimWorker } from './world.js';

// The demonstration, as its users would run it against the API: a client company with three jobs,
// two vendors with their workers, QA's decisions, an appeal, webhooks, and finance's pay run. Every
// step is an HTTP call through ./api.ts; the only thing taken from outside the API is the first admin
// key (given by the caller, issued the way `pnpm fairlabel bootstrap` does).

export interface DemoSize {
  workers: number;
  items: ItemCounts;
  /** How long nothing may move (no submission, no decision) before the run stops waiting. */
  stallMs: number;
}

export const FULL: DemoSize = { workers: 300, items: { classification: 240, ner: 60, boxes: 45, gold: 60 }, stallMs: 30_000 };
export const SMALL: DemoSize = { workers: 20, items: { classification: 30, ner: 8, boxes: 6, gold: 10 }, stallMs: 15_000 };

export interface DemoOptions {
  base: string;
  adminKey: string;
  seed: number;
  size: DemoSize;
  log: (line: string) => void;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** An invariant of the platform (money, tasks) rather than a step of the story. */
  invariant: boolean;
}

export interface WorkerOutcome {
  index: number;
  id: string;
  vendor: 0 | 1;
  tier: number;
  country: string;
  habit: SimWorker['habit'];
  drawnAccuracy: number;
  submitted: number;
  right: number;
  accepted: number;
  rejected: number;
  released: number;
  promoted: boolean;
  suspended: string[];
}

export interface DemoResult {
  seed: number;
  startedAt: string;
  finishedAt: string;
  seconds: number;
  workers: WorkerOutcome[];
  jobs: { kind: JobKind; id: string; name: string; items: number; gold: number; decided: number; agreement: number | null; accuracy: number | null; status: string; overlap: number }[];
  work: { claims: number; submits: number; releases: number; leasesLost: number; seconds: number; claimsPerSecond: number };
  /** Submissions and decisions per `bucketSeconds` from the start of the work. */
  throughput: { t: number; submitted: number; decided: number }[];
  bucketSeconds: number;
  webhooks: { received: number; verified: number; completed: string[]; byType: Record<string, number> };
  appeal: { assignmentId: number | null; upheld: boolean; detail: string };
  payRun: PayRun | null;
  statements: { workers: number; vendors: number; topups: string };
  reconciliation: Reconciliation | null;
  fairPay: FairPay | null;
  requests: number;
  /** Requests answered 503 or 429 and retried after their Retry-After. */
  retries: number;
  checks: Check[];
  ok: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` over `items` with at most `n` at a time. */
async function pool<T, R>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

const CURRENCY = 'USD';
/** Approximate rates entered by finance for the demo (1 unit of the currency in USD), so floors in local currencies convert. */
const FX: Record<string, string> = { INR: '0.0119', KES: '0.0077', PHP: '0.0175', NGN: '0.00065', BRL: '0.18' };

const CLASSIFICATION_XML = `<View>
  <Header value="Which road user is most prominent in the photo?"/>
  <Image name="photo" value="$image"/>
  <Choices name="vehicle" toName="photo" required="true">
${CLASSES.map((c) => `    <Choice value="${c}"/>`).join('\n')}
  </Choices>
</View>`;

/** What every job of the demo has in common; each spec below overrides its part. */
const JOB_DEFAULTS: Omit<CreateJob, 'name' | 'label_config' | 'required_skill' | 'pay_per_annotation' | 'client_price_per_item'> = {
  instructions: '',
  min_level: 1,
  overlap: 3,
  currency: 'USD',
  vendor_allowlist: null,
  vendor_share_caps: {},
  priority: 0,
  deadline: null,
  lease_seconds: 120,
  qa_policy: { gold_ratio: 0, review_sample_rate: 0, consensus_method: 'majority', accuracy_floor: 0 },
  pay_policy: { review_rate: null, verify_rate: null, automation_price: null, rejected_pay_bp: 0 },
  contains_pii: false,
  allowed_regions: null,
};

const JOB_SPECS: Record<JobKind, { name: string; body: Partial<CreateJob> & Pick<CreateJob, 'label_config' | 'required_skill' | 'pay_per_annotation' | 'client_price_per_item'> }> = {
  classification: {
    name: 'Street scenes',
    body: {
      label_config: CLASSIFICATION_XML,
      label_config_format: 'labelstudio',
      instructions: 'Pick the most prominent road user. A model has pre-selected an answer: check it.',
      required_skill: SKILLS.classification,
      overlap: 3,
      pay_per_annotation: 2,
      client_price_per_item: 12,
      // Gold scores workers at once: a few careless or too-fast answers on gold suspend them from the
      // skill, sustained accuracy promotes them (thresholds low enough to act within one short run).
      qa_policy: {
        gold_ratio: 0.25,
        review_sample_rate: 0,
        consensus_method: 'dawid_skene',
        accuracy_floor: 0.6,
        min_plausible_ms: 120,
        min_gold_for_suspension: 3,
        promotion_bar: 0.8,
        min_gold_for_promotion: 3,
      },
    },
  },
  ner: {
    name: 'News entities',
    body: {
      label_config: { version: 2, objects: [{ name: 'text', type: 'text', value: '$text' }], controls: [{ name: 'entities', type: 'labels', to_name: 'text', labels: [...ENTITY_LABELS] }] },
      instructions: 'Mark every person (PER), organization (ORG) and place (LOC).',
      required_skill: SKILLS.ner,
      overlap: 3,
      priority: 10,
      pay_per_annotation: 6,
      client_price_per_item: 30,
    },
  },
  boxes: {
    name: 'Warehouse shelves',
    body: {
      label_config: {
        version: 2,
        objects: [{ name: 'shelf', type: 'image', value: '$image', width: 1280, height: 960 }],
        controls: [{ name: 'objects', type: 'rectangle', to_name: 'shelf', labels: [...BOX_LABELS] }],
      },
      instructions: 'Draw a box around every parcel, pallet and person.',
      required_skill: SKILLS.boxes,
      overlap: 3,
      priority: 10,
      pay_per_annotation: 8,
      client_price_per_item: 40,
    },
  },
};

function importLine(item: SimItem): string {
  const line: Record<string, unknown> = { external_id: item.externalId, data: { ...item.data, ref: item.externalId } };
  if (item.prediction) line.predictions = [{ answer: { vehicle: { choices: [item.prediction.label] } }, confidence: item.prediction.confidence, model_version: 'streetnet-v3' }];
  if (item.gold && item.truth.kind === 'classification') line.gold = { vehicle: { choices: [item.truth.label] } };
  return JSON.stringify(line);
}

interface Live {
  worker: SimWorker;
  id: string;
  key: string;
  vendorKey: string;
  outcome: WorkerOutcome;
  rng: Rng;
}

interface Submitted {
  assignmentId: number;
  worker: Live;
  item: SimItem;
  right: boolean;
  answer: unknown;
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const { size } = opts;
  const started = Date.now();
  const api = new Api(opts.base);
  const rng = seededRng(opts.seed);
  const sims = drawWorkers(rng, size.workers);
  const items = drawItems(rng, size.items);
  const byRef = new Map<string, SimItem>(JOB_KINDS.flatMap((k) => items[k].map((i) => [i.externalId, i] as const)));
  const checks: Check[] = [];
  const say = (line: string) => opts.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s  ${line}`);
  const check = (name: string, ok: boolean, detail: string, invariant = false) => {
    checks.push({ name, ok, detail, invariant });
    if (!ok) say(`FAILED ${name}: ${detail}`);
  };
  const receiver = new WebhookReceiver();
  await receiver.start();
  const admin = opts.adminKey;
  const suffix = new Date(started).toISOString().slice(5, 19).replace(/[-:T]/g, '');

  try {
    // ---- platform staff, the client, the vendors ----
    const platformId = (await ops.whoami(api, admin)).organization_id;
    const financeKey = await ops.createApiKey(api, admin, platformId, { role: 'finance', name: 'demo finance' });
    const opsKey = await ops.createApiKey(api, admin, platformId, { role: 'ops', name: 'demo ops' });
    const client = await ops.createOrganization(api, admin, { name: `Acme Vision ${suffix}`, kind: 'client' });
    const clientKey = await ops.createApiKey(api, admin, client.id, { role: 'client', name: 'demo' });
    const vendors = await Promise.all(
      [`Village Labels ${suffix}`, `Metro Annotate ${suffix}`].map(async (name) => {
        const org = await ops.createOrganization(api, admin, { name, kind: 'vendor' });
        return { org, key: await ops.createApiKey(api, admin, org.id, { role: 'vendor', name: 'demo' }) };
      }),
    );
    say(`client ${client.name} and vendors ${vendors.map((v) => v.org.name).join(', ')}`);

    // ---- the vendors' workers: regions, skills and levels, keys ----
    const live: Live[] = await pool(sims, 24, async (w) => {
      const vendor = vendors[w.vendor]!;
      const created = await ops.createWorker(api, vendor.key, {
        display_name: w.name,
        external_ref: `w-${w.index}`,
        region: { country: w.place.country, province: w.place.province, city_tier: w.place.city_tier, area: w.place.area },
        timezone: w.place.timezone,
        accommodations: w.leaseFactor ? { lease_factor: w.leaseFactor } : {},
      });
      for (const kind of JOB_KINDS) {
        const level = w.skills[kind];
        if (level === undefined) continue;
        // Vendors set levels 1–2; level 3 is a certification by platform ops, with its reason.
        if (level <= 2) await ops.setWorkerSkill(api, vendor.key, created.id, SKILLS[kind], { level });
        else await ops.setWorkerSkill(api, opsKey, created.id, SKILLS[kind], { level, reason: 'passed the demo certification test' });
      }
      const key = await ops.createWorkerApiKey(api, vendor.key, created.id);
      const outcome: WorkerOutcome = {
        index: w.index,
        id: created.id,
        vendor: w.vendor,
        tier: w.place.city_tier,
        country: w.place.country,
        habit: w.habit,
        drawnAccuracy: w.accuracy,
        submitted: 0,
        right: 0,
        accepted: 0,
        rejected: 0,
        released: 0,
        promoted: false,
        suspended: [],
      };
      return { worker: w, id: created.id, key, vendorKey: vendor.key, outcome, rng: seededRng(opts.seed * 7919 + w.index) };
    });
    const habits = (h: SimWorker['habit']) => sims.filter((w) => w.habit === h).length;
    say(`${live.length} workers (${habits('careless')} careless, ${habits('too_fast')} too fast, ${habits('slow')} slow), skills and levels drawn with seed ${opts.seed}`);

    // ---- finance: exchange rates for the floors, and floor top-ups for this client ----
    const ratesFrom = new Date(started - 60_000).toISOString();
    for (const [base, rate] of Object.entries(FX)) {
      await ops.createFxRate(api, financeKey, { base, quote: CURRENCY, effective_from: ratesFrom, rate, source: 'fairlabel demo: an approximate market rate' });
    }
    await ops.setFloorPolicy(api, financeKey, { client_id: client.id, mode: 'top_up', funded_by: 'client' });
    // The vendors' commissions (their share of their workers' gross pay), from now on.
    const contractsFrom = new Date(Date.now() + 1000).toISOString();
    await Promise.all(vendors.map((v, i) => ops.setVendorContract(api, financeKey, v.org.id, { effective_from: contractsFrom, commission_bp: [1200, 800][i]! })));

    // ---- the client: a webhook receiver, three jobs, their items ----
    const hook = await ops.createWebhookEndpoint(api, clientKey, { url: receiver.url, event_types: ['job.activated', 'task.decided', 'job.progress', 'job.completed'], description: 'demo receiver' });
    receiver.addSecret(hook.secret);
    const jobs = {} as Record<JobKind, { id: string; overlap: number }>;
    for (const kind of JOB_KINDS) {
      const spec = JOB_SPECS[kind];
      const job = await ops.createJob(api, clientKey, { ...JOB_DEFAULTS, ...spec.body, name: `${spec.name} ${suffix}`, currency: CURRENCY });
      const imported = await ops.importTasks(api, clientKey, job.id, items[kind].map(importLine).join('\n'));
      if (imported.created !== items[kind].length) throw new Error(`import of ${kind}: ${JSON.stringify(imported)}`);
      await ops.activateJob(api, clientKey, job.id);
      jobs[kind] = { id: job.id, overlap: job.overlap };
      say(`job "${spec.name}" (${kind}): ${imported.created} items${kind === 'classification' ? `, ${size.items.gold} of them gold, each with a model prediction` : ''}, overlap ${job.overlap}`);
    }
    const jobKindOf = new Map(JOB_KINDS.map((k) => [jobs[k].id, k]));

    // ---- the work: every worker claims, heartbeats and submits until everything is decided ----
    const submitted: Submitted[] = [];
    const submitTimes: number[] = [];
    let claims = 0;
    let releases = 0;
    let leasesLost = 0;
    let stop = false;
    let lastMove = Date.now();
    const workStart = Date.now();
    let lastSubmit = workStart;
    const errors: string[] = [];

    /**
     * A lease that ended under the worker: expired under load (409), or QA suspended the worker from the
     * job's skill, or from a job without a skill, meanwhile (403 skill_suspended / job_suspended: the lease
     * can no longer be submitted). The worker moves on.
     */
    const leaseGone = (err: unknown) => err instanceof ApiError && (err.status === 409 || (err.status === 403 && (err.code === 'skill_suspended' || err.code === 'job_suspended')));
    const workerLoop = async (w: Live) => {
      const sim = w.worker;
      while (!stop) {
        let a: Assignment | null;
        try {
          a = await ops.claimNextAssignment(api, w.key, 3);
        } catch (err) {
          if (err instanceof ApiError && err.status === 403) return; // suspended by the vendor
          throw err;
        }
        if (!a) {
          // Nothing eligible now (their jobs are done, or every open slot is taken): look again later.
          await sleep(1500 + w.rng() * 2000);
          continue;
        }
        claims++;
        lastMove = Date.now();
        const item = byRef.get(String((a.payload as { ref?: unknown } | null)?.ref));
        if (!item) throw new Error(`assignment ${a.id}: an item the demo did not import (${JSON.stringify(a.payload)})`);
        const kind = jobKindOf.get(a.job_id) ?? item.kind;
        const begun = Date.now();
        try {
          // Slow workers struggle with each item for a while (heartbeating) and then give it back:
          // working time with no pay, which the pay floor counts and the pay run tops up.
          if (sim.habit === 'slow') {
            const beats = 3 + Math.floor(w.rng() * 3);
            for (let i = 0; i < beats && (i === 0 || !stop); i++) {
              await sleep(1500 + w.rng() * 1000);
              await ops.heartbeatAssignment(api, w.key, a.id);
            }
            await ops.releaseAssignment(api, w.key, a.id, 'unclear_instructions');
            releases++;
            w.outcome.released++;
            continue;
          }
          let think = thinkMs(w.rng, kind, sim);
          // Longer work keeps its lease alive with heartbeats, as a real client does.
          while (think > 1200) {
            await sleep(1000);
            think -= 1000;
            await ops.heartbeatAssignment(api, w.key, a.id);
          }
          await sleep(think);
          const answer = answerFor(w.rng, item.truth, sim.accuracy);
          await ops.submitAssignment(api, w.key, a.id, { answer, time_spent_ms: Date.now() - begun });
          const right = isRight(item.truth, answer);
          submitted.push({ assignmentId: a.id, worker: w, item, right, answer });
          submitTimes.push(Date.now() - workStart);
          w.outcome.submitted++;
          if (right) w.outcome.right++;
          lastSubmit = Date.now();
          lastMove = lastSubmit;
        } catch (err) {
          if (!leaseGone(err)) throw err;
          leasesLost++;
          // A lease QA's suspension made unsubmittable still holds its slot until it expires (the job's
          // lease_seconds, 120 s here: longer than the run waits when nothing moves), and the task waits
          // for that slot with its other answers "awaiting QA". So the worker gives it back at once, as
          // a careful client does; an expired lease is gone already (409), and a release can race it.
          if (err instanceof ApiError && err.status === 403) {
            await ops.releaseAssignment(api, w.key, a.id, 'other', 'suspended from the skill').catch((e: unknown) => {
              if (!(e instanceof ApiError && e.status === 409)) throw e;
            });
          }
        }
      }
    };

    const progressOf = async () => Object.fromEntries(await Promise.all(JOB_KINDS.map(async (k) => [k, await ops.getJobProgress(api, clientKey, jobs[k].id)] as const))) as Record<JobKind, Progress>;
    const decidedTimes: number[] = [];
    let decidedSeen = 0;
    const totalItems = JOB_KINDS.reduce((n, k) => n + items[k].length, 0);
    const toDecide = JOB_KINDS.reduce((n, k) => n + items[k].filter((i) => !i.gold).length, 0);
    const loops = live.map((w) =>
      workerLoop(w).catch((err: unknown) => {
        errors.push(`worker ${w.worker.index}: ${(err as Error).message}`);
      }),
    );
    let progress = await progressOf();
    let lastReport = Date.now();
    try {
      for (;;) {
        await sleep(1500);
        progress = await progressOf();
        const decided = JOB_KINDS.reduce((n, k) => n + progress[k].tasks.decided, 0);
        for (let i = decidedSeen; i < decided; i++) decidedTimes.push(Date.now() - workStart);
        if (decided > decidedSeen) lastMove = Date.now();
        decidedSeen = Math.max(decidedSeen, decided);
        if (Date.now() - lastReport >= 10_000) {
          lastReport = Date.now();
          say(`  ${((Date.now() - workStart) / 1000).toFixed(0)} s: ${claims} claims, ${submitted.length} submissions, ${decided}/${toDecide} items decided`);
        }
        if (decided >= toDecide) break;
        if (errors.length) break;
        if (Date.now() - lastMove > size.stallMs) {
          say(`nothing moved for ${size.stallMs / 1000} s: ${decided}/${toDecide} items decided, ${JOB_KINDS.map((k) => `${k}: ${progress[k].assignments.submitted} awaiting QA`).join(', ')}`);
          break;
        }
      }
    } finally {
      // Whatever happened above, the workers stop and are waited for, so the process can end.
      stop = true;
      await Promise.all(loops);
    }
    const workSeconds = Math.max(0.001, (lastSubmit - workStart) / 1000);
    check('workers ran without errors', errors.length === 0, errors.slice(0, 5).join('; ') || 'none');
    say(`work: ${claims} claims, ${submitted.length} submissions, ${releases} released in ${workSeconds.toFixed(1)} s (${(claims / workSeconds).toFixed(1)} claims/s)`);

    // Answers submitted last (gold among them) are decided within moments: wait for QA to catch up.
    const caughtUp = Date.now() + 15_000;
    while (Date.now() < caughtUp && JOB_KINDS.some((k) => progress[k].assignments.submitted > 0)) {
      await sleep(500);
      progress = await progressOf();
    }

    // ---- QA's decisions as the client sees them: results against the generated truth ----
    const exported = Object.fromEntries(await Promise.all(JOB_KINDS.map(async (k) => [k, await ops.exportJobResults(api, clientKey, jobs[k].id)] as const))) as Record<JobKind, ExportedTask[]>;
    const statusOf = new Map<number, string>();
    for (const k of JOB_KINDS) for (const t of exported[k]) for (const a of t.annotations ?? []) statusOf.set(a.assignment_id, a.status);

    // ---- an appeal: a worker whose right answer was outvoted appeals, and a worker of a higher level
    // in the job's skill (another vendor's when the job asks) finds it in GET /v1/appeals and upholds it ----
    const appeal = { assignmentId: null as number | null, upheld: false, detail: '' };
    // The appellant should have someone above them: prefer the wronged answers of the lowest levels.
    const wrongedAll = submitted
      .filter((s) => s.right && statusOf.get(s.assignmentId) === 'rejected')
      .sort((a, b) => (a.worker.worker.skills[a.item.kind] ?? 1) - (b.worker.worker.skills[b.item.kind] ?? 1));
    const wronged = wrongedAll[0];
    if (!wronged) {
      appeal.detail = `no rejected right answer to appeal (${[...statusOf.values()].filter((s) => s === 'rejected').length} rejected assignments)`;
    } else {
      appeal.assignmentId = wronged.assignmentId;
      const step = { now: `POST /v1/assignments/${wronged.assignmentId}/appeal` };
      try {
        const filed = await ops.appealAssignment(api, wronged.worker.key, wronged.assignmentId, 'My answer matches the image; the other annotators missed it.');
        // The reviewers: the others of the job's skill, highest level first; the first who is offered it decides.
        const reviewers = live
          .filter((w) => w !== wronged.worker && (w.worker.skills[wronged.item.kind] ?? 0) > 0)
          .sort((a, b) => (b.worker.skills[wronged.item.kind] ?? 0) - (a.worker.skills[wronged.item.kind] ?? 0));
        let decider: Live | null = null;
        step.now = 'GET /v1/appeals';
        for (const w of reviewers) {
          if ((await ops.listAppealsToDecide(api, w.key)).some((p) => p.id === filed.id)) {
            decider = w;
            break;
          }
        }
        if (!decider) {
          appeal.detail = `appeal ${filed.id} (level ${filed.worker_level}) is offered to none of the ${reviewers.length} other workers of the skill`;
        } else {
          step.now = `POST /v1/appeals/${filed.id}/decide`;
          const decided = await ops.decideAppeal(api, decider.key, filed.id, { outcome: 'upheld', comment: 'Checked against the image: the appellant is right.' });
          // The upheld decision reaches the assignment (worker-assignment) by event: the client's export shows it.
          step.now = 'GET /v1/jobs/{id}/results';
          const deadline = Date.now() + 20_000;
          while (Date.now() < deadline && !appeal.upheld) {
            await sleep(500);
            const tasks = await ops.exportJobResults(api, clientKey, jobs[wronged.item.kind].id);
            const a = tasks.flatMap((t) => t.annotations ?? []).find((x) => x.assignment_id === wronged.assignmentId);
            if (decided.status === 'upheld' && a?.status === 'accepted') appeal.upheld = true;
          }
          const level = `level ${filed.worker_level}, decided by ${decider.worker.name} of level ${decider.worker.skills[wronged.item.kind]}`;
          appeal.detail = appeal.upheld
            ? `assignment ${wronged.assignmentId} (${wronged.item.kind}, ${level}) accepted on appeal`
            : `appeal ${filed.id} ${decided.status}, but assignment ${wronged.assignmentId} still rejected 20 s later`;
        }
        if (appeal.upheld) statusOf.set(wronged.assignmentId, 'accepted');
      } catch (err) {
        appeal.detail = `${step.now}: ${(err as Error).message}`;
      }
    }
    check('one appeal is upheld', appeal.upheld, appeal.detail);
    if (appeal.upheld) say(`appeal: ${appeal.detail}`);

    // ---- webhooks: every job completed, and the receiver saw it (signed) ----
    const completedDeadline = Date.now() + 15_000;
    while (Date.now() < completedDeadline && JOB_KINDS.some((k) => !receiver.of('job.completed').some((d) => d.data.job_id === jobs[k].id))) await sleep(500);
    const completed = receiver.of('job.completed').map((d) => String(d.data.job_id));
    const statuses = {} as Record<JobKind, string>;
    for (const k of JOB_KINDS) {
      const job = await ops.getJob(api, clientKey, jobs[k].id);
      statuses[k] = job.status;
      check(`job "${JOB_SPECS[k].name}" completed and its webhook arrived`, job.status === 'completed' && completed.includes(jobs[k].id), `status ${job.status}; job.completed webhook ${completed.includes(jobs[k].id) ? 'received' : 'not received'}`);
    }
    const unverified = receiver.deliveries.filter((d) => !d.verified).length;
    say(`webhooks: ${receiver.deliveries.length} received, job.completed for ${completed.length} jobs`);
    check('every webhook is signed with the endpoint secret', unverified === 0, `${unverified} of ${receiver.deliveries.length} deliveries failed verification`);

    // ---- worker quality: promotions and suspensions QA made ----
    await pool(live, 12, async (w) => {
      const now = await ops.getWorker(api, w.vendorKey, w.id);
      for (const s of now.skills) {
        const kind = JOB_KINDS.find((k) => SKILLS[k] === s.skill);
        if (kind && s.level > (w.worker.skills[kind] ?? 0) && s.source === 'qa') w.outcome.promoted = true;
        if (s.suspended_at) w.outcome.suspended.push(s.skill);
      }
    });
    const promoted = live.filter((w) => w.outcome.promoted).length;
    const suspended = live.filter((w) => w.outcome.suspended.length > 0).length;
    say(`QA: ${promoted} workers promoted, ${suspended} suspended from a skill`);
    check('QA promoted or suspended workers on their gold accuracy', promoted + suspended > 0, `${promoted} promoted, ${suspended} suspended from a skill`);
    for (const s of submitted) {
      const st = statusOf.get(s.assignmentId);
      if (st === 'accepted') s.worker.outcome.accepted++;
      else if (st === 'rejected') s.worker.outcome.rejected++;
    }

    // ---- finance: settlement catches up, a pay run with floor top-ups, payouts, reconciliation ----
    const reconFrom = new Date(started - 60_000).toISOString();
    let recon = await ops.reconcile(api, financeKey, { currency: CURRENCY, from: reconFrom });
    const acceptedNow = [...statusOf.values()].filter((s) => s === 'accepted').length;
    const settleDeadline = Date.now() + 20_000;
    while (Date.now() < settleDeadline && (!recon.ok || ourJobs(recon, jobs).accepted < acceptedNow)) {
      await sleep(1000);
      recon = await ops.reconcile(api, financeKey, { currency: CURRENCY, from: reconFrom });
    }
    say(`settlement: ${ourJobs(recon, jobs).accepted} accepted assignments posted, reconciliation ${recon.ok ? 'clean' : `finds ${recon.discrepancy_count} discrepancies`}`);
    const last = (await ops.listPayRuns(api, financeKey, CURRENCY))[0];
    const periodStart = new Date(Math.max(started - 60_000, last ? Date.parse(last.period_end) : 0));
    await sleep(1100);
    const periodEnd = new Date(Date.now() - 1000);
    let payRun: PayRun | null = null;
    let statements: Statement[] = [];
    try {
      payRun = await ops.createPayRun(api, financeKey, { currency: CURRENCY, period_start: periodStart.toISOString(), period_end: periodEnd.toISOString(), minimum_payout: 0 }, `demo-${suffix}-${opts.seed}`);
      await ops.approvePayRun(api, financeKey, payRun.id);
      statements = await ops.listPayRunStatements(api, financeKey, payRun.id);
      if (statements.length) {
        await ops.recordPayouts(api, financeKey, payRun.id, statements.map((s) => ({ statement_id: s.id, reference: `demo-payout-${payRun!.id}-${s.id}` })), `demo-payouts-${payRun.id}`);
      }
      payRun = await ops.getPayRun(api, financeKey, payRun.id);
      say(`pay run ${payRun.id}: ${payRun.status}, ${statements.length} statements, ${cents(payRun.total)}`);
      check('finance closes the pay run: approved and paid', payRun.status === 'paid' && statements.length > 0, `pay run ${payRun.id}: ${payRun.status}, ${statements.length} statements`);
    } catch (err) {
      check('finance closes the pay run: approved and paid', false, (err as Error).message);
    }
    const topups = statements.reduce((n, s) => n + BigInt(s.topup), 0n);
    check('the pay run tops workers up to their floor', topups > 0n, `${payRun?.floors?.topped_up ?? 0} workers topped up by ${cents(topups)}`);
    recon = await ops.reconcile(api, financeKey, { currency: CURRENCY, from: reconFrom });
    const fairPay = await ops.getFairPayReport(api, financeKey, { from: periodStart.toISOString(), to: periodEnd.toISOString(), currency: CURRENCY });

    // ---- invariants ----
    const imported = totalItems;
    const tasksSeen = JOB_KINDS.reduce((n, k) => n + exported[k].length, 0);
    // Gold items are never decided (answers to them are scored against the gold answer at once), so every other item must be.
    const undecided = JOB_KINDS.flatMap((k) => exported[k].filter((t) => t.gold === null && t.status !== 'decided').map((t) => `${k}:${t.external_id}(${t.status})`));
    check('no task is lost: every imported item is there and decided', tasksSeen === imported && undecided.length === 0, `${tasksSeen}/${imported} items exported, ${undecided.length} (not gold) not decided${undecided.length ? `: ${undecided.slice(0, 5).join(', ')}…` : ''}`, true);
    const answeredIds = new Set(statusOf.keys());
    const missing = submitted.filter((s) => !answeredIds.has(s.assignmentId));
    const notDecided = submitted.filter((s) => !['accepted', 'rejected'].includes(statusOf.get(s.assignmentId) ?? ''));
    check('no submission is lost: every one is in the results and decided', missing.length === 0 && notDecided.length === 0, `${submitted.length} submitted, ${missing.length} missing from the export, ${notDecided.length} not accepted or rejected`, true);
    // A suspended worker's undecided answers are rejected and their slots reopen (QA's rule), so those
    // answers no longer count toward the overlap; every other answer does.
    const suspendedFrom = new Map(live.map((w) => [w.id, new Set(w.outcome.suspended)]));
    const counts = (k: JobKind, a: { worker_id: string; status: string }) =>
      ['submitted', 'accepted'].includes(a.status) || (a.status === 'rejected' && !suspendedFrom.get(a.worker_id)?.has(SKILLS[k]));
    const over = JOB_KINDS.flatMap((k) =>
      exported[k]
        .filter((t) => t.gold === null)
        .map((t) => ({ t, n: (t.annotations ?? []).filter((a) => counts(k, a)).length }))
        .filter(({ n }) => n > jobs[k].overlap)
        .map(({ t, n }) => `${t.external_id}: ${n} > ${jobs[k].overlap}`),
    );
    check('no task over its overlap', over.length === 0, over.length ? over.slice(0, 5).join(', ') : 'every non-gold item has at most its overlap of answers', true);
    const ledgerTotal = recon.ledger.find((l) => l.currency === CURRENCY);
    const unbalanced = recon.discrepancies.filter((d) => ['ledger_unbalanced', 'transaction_unbalanced', 'balance_drift'].includes(d.code));
    check('the ledger balances', (ledgerTotal?.total ?? '0') === '0' && unbalanced.length === 0, `ledger total ${ledgerTotal?.total ?? '0'} over ${ledgerTotal?.transactions ?? 0} transactions; ${unbalanced.length} unbalanced`, true);
    const payment = recon.discrepancies.filter((d) => ['missing_earning', 'duplicate_earning', 'amount_mismatch', 'decision_mismatch'].includes(d.code));
    const ours = ourJobs(recon, jobs);
    check(
      'every accepted assignment is paid exactly once',
      payment.length === 0 && ours.accepted === acceptedNow && ours.expected === ours.posted,
      `${acceptedNow} accepted; settlement counts ${ours.accepted}, expected pay ${ours.expected} posted ${ours.posted}; ${payment.length} payment discrepancies${payment.length ? `: ${payment.slice(0, 3).map((d) => d.message).join('; ')}` : ''}`,
      true,
    );
    check('reconciliation finds nothing after the payouts', recon.ok, recon.ok ? 'ok' : recon.discrepancies.slice(0, 5).map((d) => `${d.code}: ${d.message}`).join('; '), true);

    // ---- what the client got ----
    const jobRows = JOB_KINDS.map((k) => {
      const decided = exported[k].filter((t) => t.status === 'decided' && t.gold === null);
      const right = decided.filter((t) => isRight(byRef.get(t.external_id)!.truth, t.result)).length;
      return {
        kind: k,
        id: jobs[k].id,
        name: JOB_SPECS[k].name,
        items: items[k].filter((i) => !i.gold).length,
        gold: items[k].filter((i) => i.gold).length,
        decided: decided.length,
        agreement: progress[k].agreement,
        accuracy: decided.length ? right / decided.length : null,
        status: statuses[k],
        overlap: jobs[k].overlap,
      };
    });

    const end = Math.max(0, ...submitTimes, ...decidedTimes);
    // About 30 buckets over the run, whole seconds each.
    const bucket = Math.max(1, Math.ceil(end / 1000 / 30));
    const throughput = Array.from({ length: Math.floor(end / 1000 / bucket) + 1 }, (_, i) => ({
      t: i * bucket,
      submitted: submitTimes.filter((t) => Math.floor(t / 1000 / bucket) === i).length,
      decided: decidedTimes.filter((t) => Math.floor(t / 1000 / bucket) === i).length,
    }));
    const byType: Record<string, number> = {};
    for (const d of receiver.deliveries) byType[d.type] = (byType[d.type] ?? 0) + 1;
    const finished = Date.now();
    return {
      seed: opts.seed,
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date(finished).toISOString(),
      seconds: (finished - started) / 1000,
      workers: live.map((w) => w.outcome),
      jobs: jobRows,
      work: { claims, submits: submitted.length, releases, leasesLost, seconds: workSeconds, claimsPerSecond: claims / workSeconds },
      throughput,
      bucketSeconds: bucket,
      webhooks: { received: receiver.deliveries.length, verified: receiver.deliveries.length - unverified, completed, byType },
      appeal,
      payRun,
      statements: { workers: statements.filter((s) => s.payee_type === 'worker').length, vendors: statements.filter((s) => s.payee_type === 'vendor').length, topups: topups.toString() },
      reconciliation: recon,
      fairPay,
      requests: api.requests,
      retries: api.retries,
      checks,
      ok: checks.every((c) => c.ok),
    };
  } finally {
    await receiver.stop();
  }
}

function ourJobs(recon: Reconciliation, jobs: Record<JobKind, { id: string }>) {
  const ids = new Set(JOB_KINDS.map((k) => jobs[k].id));
  const rows = recon.jobs.filter((j) => ids.has(j.job_id));
  return {
    accepted: rows.reduce((n, j) => n + j.accepted, 0),
    expected: rows.reduce((n, j) => n + BigInt(j.expected_pay), 0n).toString(),
    posted: rows.reduce((n, j) => n + BigInt(j.posted_pay), 0n).toString(),
  };
}

export const cents = (minor: bigint | string | number) => {
  const n = BigInt(minor);
  const sign = n < 0n ? '-' : '';
  const abs = n < 0n ? -n : n;
  return `${sign}$${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
};
