/**
 * The lines `pnpm start` prints once the gateway is ready: where everything is, in one place, so a
 * newcomer does not have to find the URLs in the logs. Pure, so it is tested without a stack.
 */
export interface BannerFacts {
  /** The gateway's base URL, e.g. http://127.0.0.1:3000. */
  base: string;
  /** Ports of the other processes' /metrics (METRICS_PORT + n), empty when METRICS_PORT is 0. */
  metricsPorts: number[];
  /** Unrevoked admin keys in the database: none means the installation still needs `bootstrap`. */
  adminKeys: number;
  logFormat: 'json' | 'pretty';
  logLevel: string;
}

export function bannerLines(f: BannerFacts): string[] {
  const ports = f.metricsPorts.length === 0 ? '' : f.metricsPorts.length === 1 ? `:${f.metricsPorts[0]}` : `:${f.metricsPorts[0]}–${f.metricsPorts.at(-1)}`;
  const rows: [string, string][] = [
    ['API', `${f.base}/v1`],
    ['API docs', `${f.base}/docs`],
    ['Ops console', `${f.base}/ops  (log in with an ops or admin API key)`],
    ['Metrics', `${f.base}/metrics${ports ? `  (relay and services: ${ports}/metrics)` : '  (relay and services: set METRICS_PORT)'}`],
    [
      'Admin key',
      f.adminKeys === 0
        ? 'none yet: `pnpm fairlabel bootstrap` creates the platform organization and prints the first one'
        : `${f.adminKeys} issued (shown only once, when issued); \`pnpm fairlabel bootstrap --new-key\` prints another`,
    ],
    [
      'Logs',
      `${f.logFormat === 'pretty' ? 'readable lines (LOG_FORMAT=json for JSON)' : 'JSON lines (LOG_FORMAT=pretty for readable ones)'}, level ${f.logLevel}${f.logLevel === 'debug' || f.logLevel === 'trace' ? '' : ' (LOG_LEVEL=debug adds a line per request)'}`,
    ],
    ['Stop', 'Ctrl-C (finishes in-flight work)'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return ['fairlabel is up', ...rows.map(([k, v]) => `  ${k.padEnd(width)}${v}`)];
}
