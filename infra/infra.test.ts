import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// Docker does not run here and promtool is not installed, so the observability files are checked as
// files: docker-compose.yml's observability profile, Prometheus's config and alert rules (the structure
// promtool would check, and balanced expressions), the Grafana provisioning and dashboard, and that every
// fairlabel metric they name is one the code defines and the README documents.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const read = (rel: string) => readFileSync(path.join(root, rel), 'utf8');
const yamlOf = (rel: string) => parse(read(rel)) as Record<string, unknown>;

type Service = { image?: string; profiles?: string[]; volumes?: string[]; ports?: string[]; environment?: Record<string, string>; depends_on?: Record<string, unknown> };
const compose = yamlOf('docker-compose.yml') as { services: Record<string, Service>; volumes: Record<string, unknown> };
const prometheus = yamlOf('infra/prometheus/prometheus.yml') as { rule_files: string[]; scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };

/** Every metric name the code registers (`name: 'fairlabel_...'` in packages and services). */
function definedMetrics(): Map<string, string> {
  const found = new Map<string, string>();
  for (const top of ['packages', 'services']) {
    for (const pkg of readdirSync(path.join(root, top))) {
      const src = path.join(root, top, pkg, 'src');
      if (!existsSync(src)) continue;
      for (const f of readdirSync(src, { recursive: true }) as string[]) {
        if (!f.endsWith('.ts') || f.endsWith('.test.ts')) continue;
        const text = readFileSync(path.join(src, f), 'utf8');
        for (const m of text.matchAll(/name: '(fairlabel_[a-z_]+)',\s*\n?\s*help: '([^']*)'/g)) found.set(m[1]!, m[2]!);
      }
    }
  }
  return found;
}
const metrics = definedMetrics();

/** fairlabel metric names used by an expression (a histogram's series carry _bucket, _count, _sum). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\bfairlabel_[a-z_]+/g)].map((m) => m[0]);
}
function isDefined(series: string): boolean {
  return metrics.has(series) || ['_bucket', '_count', '_sum'].some((s) => series.endsWith(s) && metrics.has(series.slice(0, -s.length)));
}
function balanced(expr: string): boolean {
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  const stack: string[] = [];
  let quoted = false;
  for (const c of expr) {
    if (c === '"') quoted = !quoted;
    if (quoted) continue;
    if ('([{'.includes(c)) stack.push(c);
    else if (c in pairs && stack.pop() !== pairs[c]) return false;
  }
  return stack.length === 0 && !quoted;
}

describe('metric names', () => {
  it('the alert-worthy metrics are defined, each with its help text', () => {
    for (const name of [
      'fairlabel_queue_jobs',
      'fairlabel_queue_oldest_waiting_age_seconds',
      'fairlabel_claim_duration_seconds',
      'fairlabel_lease_expiries_total',
      'fairlabel_qa_decisions_total',
      'fairlabel_ledger_postings_total',
      'fairlabel_outbox_lag_seconds',
      'fairlabel_reconciler_repaired_total',
    ]) {
      expect(metrics.get(name), name).toMatch(/\w/);
    }
  });

  it('every one is documented in the README', () => {
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('### Metrics'));
    expect(section.length).toBeGreaterThan(100);
    expect([...metrics.keys()].filter((name) => !section.includes(`\`${name}\``))).toEqual([]);
  });
});

describe('docker compose --profile observability', () => {
  it('adds Prometheus and Grafana, pinned images, only with the profile', () => {
    for (const name of ['prometheus', 'grafana']) {
      const s = compose.services[name]!;
      expect(s.profiles, name).toEqual(['observability']);
      expect(s.image, name).toMatch(/^[a-z/-]+:v?\d+\.\d+\.\d+$/);
    }
    // Everything else starts without the profile.
    expect(Object.entries(compose.services).filter(([, s]) => s.profiles).map(([n]) => n).sort()).toEqual(['grafana', 'prometheus']);
    expect(compose.volumes).toHaveProperty('prometheus-data');
    expect(compose.volumes).toHaveProperty('grafana-data');
  });

  it('mounts files that exist, where the configs expect them', () => {
    const mounts = (name: string) =>
      (compose.services[name]!.volumes ?? []).filter((v) => v.startsWith('./')).map((v) => {
        const [src, dst] = v.split(':');
        return { src: src!, dst: dst! };
      });
    for (const name of ['prometheus', 'grafana']) for (const m of mounts(name)) expect(existsSync(path.join(root, m.src)), m.src).toBe(true);
    const promMounts = mounts('prometheus').map((m) => m.dst);
    for (const rule of prometheus.rule_files) expect(promMounts).toContain(rule);
    expect(promMounts).toContain('/etc/prometheus/prometheus.yml');

    const provider = yamlOf('infra/grafana/provisioning/dashboards/fairlabel.yml') as { apiVersion: number; providers: { type: string; options: { path: string } }[] };
    const grafanaMounts = mounts('grafana');
    expect(grafanaMounts).toContainEqual({ src: './infra/grafana/provisioning', dst: '/etc/grafana/provisioning' });
    expect(grafanaMounts.find((m) => m.dst === provider.providers[0]!.options.path)?.src).toBe('./infra/grafana/dashboards');
    const home = compose.services.grafana!.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!;
    expect(existsSync(path.join(root, 'infra/grafana/dashboards', path.basename(home)))).toBe(true);
  });

  it('Prometheus scrapes every process of the stack at the port it serves /metrics on', () => {
    const targets = prometheus.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
    for (const t of targets) {
      const [host, port] = t.split(':');
      const s = compose.services[host!];
      expect(s, `${t} is a compose service`).toBeDefined();
      expect(String(s!.environment?.METRICS_PORT ?? s!.environment?.PORT), t).toBe(port);
    }
    const processes = Object.entries(compose.services).filter(([, s]) => s.environment?.ENTRY && !String(s.environment.ENTRY).includes('migrate')).map(([n]) => n);
    expect(processes.length).toBe(6);
    for (const p of processes) expect(targets.some((t) => t.startsWith(`${p}:`)), p).toBe(true);
  });
});

describe('Prometheus alert rules (infra/prometheus/alerts.yml)', () => {
  const rules = yamlOf('infra/prometheus/alerts.yml') as { groups: { name: string; rules: Record<string, unknown>[] }[] };
  const all = rules.groups.flatMap((g) => g.rules);

  it('have promtool’s structure: named groups of rules with an alert name, an expression, a duration, a severity and a summary', () => {
    expect(rules.groups.length).toBeGreaterThan(0);
    expect(new Set(rules.groups.map((g) => g.name)).size).toBe(rules.groups.length);
    for (const g of rules.groups) {
      expect(g.name).toMatch(/\S/);
      expect(g.rules.length, g.name).toBeGreaterThan(0);
    }
    for (const r of all) {
      const name = String(r.alert);
      expect(name).toMatch(/^[A-Z][A-Za-z0-9]+$/);
      expect(Object.keys(r).filter((k) => !['alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'].includes(k)), name).toEqual([]);
      expect(typeof r.expr, name).toBe('string');
      expect(balanced(String(r.expr)), `${name}: ${String(r.expr)}`).toBe(true);
      // `for` is optional; when given it is a duration.
      expect(r.for === undefined || /^\d+[smhd]$/.test(String(r.for)), `${name}: for ${String(r.for)}`).toBe(true);
      expect((r.labels as Record<string, string>).severity, name).toMatch(/^(info|warning|critical)$/);
      const annotations = r.annotations as Record<string, string>;
      expect(annotations.summary, name).toMatch(/\S/);
      expect(annotations.description, name).toMatch(/\S/);
      for (const text of Object.values(annotations)) expect(balanced(text.replace(/\{\{[^}]*\}\}/g, '')), name).toBe(true);
    }
    expect(new Set(all.map((r) => r.alert)).size).toBe(all.length);
  });

  it('name only metrics fairlabel defines, and cover what an operator alerts on', () => {
    const used = all.flatMap((r) => metricsIn(String(r.expr)));
    expect(used.filter((m) => !isDefined(m))).toEqual([]);
    for (const needed of ['fairlabel_queue_oldest_waiting_age_seconds', 'fairlabel_queue_jobs', 'fairlabel_outbox_lag_seconds', 'fairlabel_claim_duration_seconds_bucket', 'fairlabel_lease_expiries_total', 'fairlabel_qa_decisions_total', 'fairlabel_ledger_postings_total', 'fairlabel_reconciler_repaired_total']) {
      expect(used, needed).toContain(needed);
    }
  });
});

describe('Grafana', () => {
  const datasources = yamlOf('infra/grafana/provisioning/datasources/prometheus.yml') as { apiVersion: number; datasources: { uid: string; type: string; url: string }[] };
  const dashboard = JSON.parse(read('infra/grafana/dashboards/fairlabel.json')) as {
    uid: string;
    title: string;
    schemaVersion: number;
    panels: { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; datasource?: { uid: string }; targets?: { refId: string; expr: string; datasource: { uid: string } }[] }[];
  };

  it('provisions the Prometheus of the compose file as the datasource the dashboard uses', () => {
    expect(datasources.apiVersion).toBe(1);
    const [ds] = datasources.datasources;
    expect(ds).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    const uids = new Set(dashboard.panels.flatMap((p) => [p.datasource?.uid, ...(p.targets ?? []).map((t) => t.datasource.uid)]).filter(Boolean));
    expect([...uids]).toEqual([ds!.uid]);
  });

  it('the dashboard is valid JSON of Grafana’s shape: unique panel ids, panels inside the 24-column grid, a query per target', () => {
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.title).toMatch(/\S/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      expect(['row', 'timeseries', 'stat'], p.title).toContain(p.type);
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      // No two panels cover the same cell of the grid.
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
      if (p.type === 'row') continue;
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) {
        expect(t.expr, p.title).toMatch(/\S/);
        expect(balanced(t.expr), `${p.title}: ${t.expr}`).toBe(true);
      }
    }
  });

  it('charts only metrics fairlabel defines, and shows queue depth and age, claim latency, lease expiries, QA decisions, ledger postings, outbox lag and reconciler repairs', () => {
    const used = dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricsIn(t.expr)));
    expect(used.filter((m) => !isDefined(m))).toEqual([]);
    for (const needed of ['fairlabel_queue_jobs', 'fairlabel_queue_oldest_waiting_age_seconds', 'fairlabel_claim_duration_seconds_bucket', 'fairlabel_lease_expiries_total', 'fairlabel_qa_decisions_total', 'fairlabel_ledger_postings_total', 'fairlabel_outbox_lag_seconds', 'fairlabel_reconciler_repaired_total']) {
      expect(used, needed).toContain(needed);
    }
  });
});
