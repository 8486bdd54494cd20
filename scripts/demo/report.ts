import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { cents, type DemoResult } from './run.js';

// demo-report.html: one self-contained page (Chart.js's UMD build inlined, the run's figures as JSON),
// readable offline: nothing is fetched when it opens.

const require = createRequire(import.meta.url);
/** Chart.js (pinned in the root package.json), bundled into the page. */
export function chartLibrary(): string {
  // The package's exports map does not list its UMD build: find it beside the main entry (dist/).
  return readFileSync(path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js'), 'utf8');
}

/** Inside a <script>: no `</script` or `<!--` can end it early. */
const scriptSafe = (text: string) => text.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
const html = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);

export const CHART_IDS = ['throughput', 'accuracy', 'tiers', 'hourly'] as const;

export function renderReport(r: DemoResult): string {
  const fp = r.fairPay;
  const hourly = (fp?.workers ?? [])
    .filter((w) => w.effective_hourly !== null && w.floor_hourly !== null)
    .map((w) => ({ x: Number(w.floor_hourly) / 100, y: Number(w.effective_hourly) / 100, under: w.under_floor, topped: BigInt(w.topups) > 0n }));
  const data = {
    throughput: r.throughput,
    bucketSeconds: r.bucketSeconds,
    workers: r.workers.map((w) => ({
      x: w.drawnAccuracy,
      y: w.submitted ? w.right / w.submitted : null,
      qa: w.accepted + w.rejected ? w.accepted / (w.accepted + w.rejected) : null,
      habit: w.habit,
      n: w.submitted,
    })),
    tiers: (fp?.by_tier ?? []).map((t) => ({ tier: t.city_tier, workers: t.workers, earnings: Number(t.earnings) / 100, hours: t.hours, under: t.workers_under_floor })),
    hourly,
  };
  const pr = r.payRun;
  const rows = (cells: string[][]) => cells.map((c) => `<tr>${c.map((x) => `<td>${x}</td>`).join('')}</tr>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>fairlabel demonstration report</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1180px; color: #1d2430; padding: 0 16px; }
  h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
  .muted { color: #5b6575; } .ok { color: #13795b; } .fail { color: #b42318; font-weight: 600; }
  .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; }
  .card { border: 1px solid #d9dee7; border-radius: 8px; padding: 12px 14px; }
  .card h2 { margin-top: 0; } canvas { width: 100% !important; height: 300px !important; }
  table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eef0f4; }
  .figures { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; }
  .figure b { display: block; font-size: 20px; }
</style>
</head>
<body>
<h1>fairlabel — demonstration report</h1>
<p class="muted">Run of ${html(r.startedAt)} (seed ${r.seed}), ${r.seconds.toFixed(1)} s, ${r.workers.length} simulated workers, ${r.requests.toLocaleString('en')} API requests.
Think times are compressed (a few hundred milliseconds for what takes a person seconds), and the hours behind the pay figures are the run's real lease times, so hourly rates here run far above what the same pay per item would earn at a person's speed.</p>
<p class="${r.ok ? 'ok' : 'fail'}" id="verdict">${r.ok ? 'Every check passed.' : `Failed: ${html(r.checks.filter((c) => !c.ok).map((c) => c.name).join('; '))}`}</p>
<div class="figures">
  <div class="card figure">Items decided<b>${r.jobs.reduce((n, j) => n + j.decided, 0)} / ${r.jobs.reduce((n, j) => n + j.items, 0)}</b></div>
  <div class="card figure">Claims per second<b>${r.work.claimsPerSecond.toFixed(1)}</b></div>
  <div class="card figure">Paid to workers and vendors<b>${pr ? cents(pr.total) : '–'}</b></div>
  <div class="card figure">Floor top-ups<b>${cents(r.statements.topups)}</b></div>
</div>
<div class="grid">
  <div class="card"><h2>Throughput over time</h2><canvas id="throughput"></canvas><p class="muted">Submissions and QA decisions per ${r.bucketSeconds} s of the run.</p></div>
  <div class="card"><h2>Accuracy by worker</h2><canvas id="accuracy"></canvas><p class="muted">Each worker's drawn accuracy against the share of their answers that matched the truth, and the share QA accepted.</p></div>
  <div class="card"><h2>Earnings by region tier</h2><canvas id="tiers"></canvas><p class="muted">City tier 1 = largest cities … 5 = villages (fair-pay report).</p></div>
  <div class="card"><h2>Hourly pay against the floor</h2><canvas id="hourly"></canvas><p class="muted">Each worker's effective hourly earnings against their region's floor (USD/h, log scales); under the line is under the floor, and workers who earned nothing sit on the bottom edge.</p></div>
</div>
<h2>Jobs</h2>
<table><tr><th>job</th><th>items</th><th>decided</th><th>agreement</th><th>accuracy against the truth</th><th>status</th></tr>
${rows(r.jobs.map((j) => [html(j.name), String(j.items), String(j.decided), pct(j.agreement), pct(j.accuracy), html(j.status)]))}
</table>
<h2>Pay run and fair pay</h2>
<table>
${rows([
  ['pay run', pr ? `#${pr.id}, ${html(pr.status)}, ${r.statements.workers} worker and ${r.statements.vendors} vendor statements` : '–'],
  ['workers / vendors / total', pr ? `${cents(pr.worker_total)} / ${cents(pr.vendor_total)} / ${cents(pr.total)}` : '–'],
  ['workers under their floor', fp ? `${fp.summary.workers_under_floor} of ${fp.summary.workers} (top-ups ${cents(fp.summary.topups)})` : '–'],
  ['median effective hourly', fp?.summary.median_effective_hourly ? cents(fp.summary.median_effective_hourly) : '–'],
  ['Gini of earnings', fp?.summary.gini?.toFixed(3) ?? '–'],
])}
</table>
<h2>Checks</h2>
<table><tr><th></th><th>check</th><th>detail</th></tr>
${rows(r.checks.map((c) => [c.ok ? '<span class="ok">✓</span>' : '<span class="fail">✗</span>', html(c.name) + (c.invariant ? ' <span class="muted">(invariant)</span>' : ''), html(c.detail)]))}
</table>
<script>${scriptSafe(chartLibrary())}</script>
<script>
const data = ${scriptSafe(JSON.stringify(data))};
const HABIT_COLOURS = { steady: '#2f6fde', careless: '#d92d20', too_fast: '#f79009', slow: '#7a5af8' };
Chart.defaults.animation = false;
new Chart(document.getElementById('throughput'), {
  type: 'line',
  data: { labels: data.throughput.map((b) => b.t + ' s'), datasets: [
    { label: 'submissions', data: data.throughput.map((b) => b.submitted), borderColor: '#2f6fde', backgroundColor: '#2f6fde' },
    { label: 'items decided', data: data.throughput.map((b) => b.decided), borderColor: '#13795b', backgroundColor: '#13795b' },
  ] },
  options: { responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true, title: { display: true, text: 'per ' + data.bucketSeconds + ' s' } } } },
});
new Chart(document.getElementById('accuracy'), {
  type: 'scatter',
  data: { datasets: [
    ...Object.entries(HABIT_COLOURS).map(([habit, colour]) => ({ label: habit.replace('_', ' ') + ': right answers', backgroundColor: colour,
      data: data.workers.filter((w) => w.habit === habit && w.y !== null).map((w) => ({ x: w.x, y: w.y })) })),
    { label: 'accepted by QA', pointStyle: 'crossRot', borderColor: '#667085', backgroundColor: '#667085',
      data: data.workers.filter((w) => w.qa !== null).map((w) => ({ x: w.x, y: w.qa })) },
  ] },
  options: { responsive: true, maintainAspectRatio: false, scales: { x: { min: 0, max: 1, title: { display: true, text: 'drawn accuracy' } }, y: { min: 0, max: 1, title: { display: true, text: 'share of answers' } } } },
});
new Chart(document.getElementById('tiers'), {
  type: 'bar',
  data: { labels: data.tiers.map((t) => 'tier ' + t.tier), datasets: [
    { label: 'earnings (USD)', data: data.tiers.map((t) => t.earnings), backgroundColor: '#2f6fde', yAxisID: 'y' },
    { label: 'workers', data: data.tiers.map((t) => t.workers), backgroundColor: '#98a2b3', yAxisID: 'y1' },
    { label: 'under the floor', data: data.tiers.map((t) => t.under), backgroundColor: '#d92d20', yAxisID: 'y1' },
  ] },
  options: { responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true, title: { display: true, text: 'USD' } }, y1: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false }, title: { display: true, text: 'workers' } } } },
});
// Log scales: a worker who earned nothing (their work was released or rejected) sits on the bottom edge.
const positive = data.hourly.flatMap((p) => [p.x, p.y]).filter((v) => v > 0);
const lo = Math.max(0.001, Math.min(1, ...positive) / 2), hi = Math.max(1, ...positive) * 2;
for (const p of data.hourly) p.y = Math.max(p.y, lo);
new Chart(document.getElementById('hourly'), {
  type: 'scatter',
  data: { datasets: [
    { label: 'at or above the floor', backgroundColor: '#13795b', data: data.hourly.filter((p) => !p.under) },
    { label: 'under the floor (topped up)', backgroundColor: '#d92d20', data: data.hourly.filter((p) => p.under && p.topped) },
    { label: 'under the floor', backgroundColor: '#f79009', data: data.hourly.filter((p) => p.under && !p.topped) },
    { label: 'the floor', type: 'line', borderColor: '#667085', borderDash: [6, 4], pointRadius: 0, data: [{ x: lo, y: lo }, { x: hi, y: hi }] },
  ] },
  options: { responsive: true, maintainAspectRatio: false, scales: { x: { type: 'logarithmic', min: lo, max: hi, title: { display: true, text: 'floor (USD/h)' } }, y: { type: 'logarithmic', min: lo, max: hi, title: { display: true, text: 'effective hourly (USD/h)' } } } },
});
document.body.dataset.charts = 'rendered';
</script>
</body>
</html>
`;
}
