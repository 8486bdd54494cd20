// Reads a V8 .cpuprofile written by a gateway started with --cpu-prof and says where its CPU went
// during the measured window: self time by package and by function.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { table } from './stats.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function packageOf(url: string): string {
  if (!url) return '(native / V8)';
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pnpm) return pnpm[1]!;
  const ws = /\/(packages|services)\/([^/]+)\//.exec(url);
  if (ws) return `@fairlabel/${ws[2]}`;
  if (url.startsWith('node:')) return 'node core';
  return path.basename(url);
}

/**
 * Summarises the samples that fall in the last `windowEndsBeforeExit` .. `windowStartsBeforeExit`
 * milliseconds before the profile ended (the process exits shortly after the measured window).
 */
export function summarizeCpuProfile(dir: string, windowStartsBeforeExitMs: number, windowEndsBeforeExitMs: number): string {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const selfByFunction = new Map<string, number>();
  const selfByPackage = new Map<string, number>();
  let total = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const from = profile.endTime - windowStartsBeforeExitMs * 1000;
    const to = profile.endTime - windowEndsBeforeExitMs * 1000;
    let t = profile.startTime;
    for (let i = 0; i < profile.samples.length; i++) {
      const dt = profile.timeDeltas[i] ?? 0;
      t += dt;
      if (t < from || t > to) continue;
      const node = byId.get(profile.samples[i]!)!;
      const { functionName, url, lineNumber } = node.callFrame;
      if (functionName === '(idle)') continue;
      const ms = dt / 1000;
      total += ms;
      const fn = `${functionName || '(anonymous)'} ${packageOf(url)}${url ? `:${lineNumber + 1}` : ''}`;
      selfByFunction.set(fn, (selfByFunction.get(fn) ?? 0) + ms);
      const pkg = ['(garbage collector)', '(program)'].includes(functionName) ? functionName : packageOf(url);
      selfByPackage.set(pkg, (selfByPackage.get(pkg) ?? 0) + ms);
    }
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, ms]) => [k, `${ms.toFixed(0)}`, `${((100 * ms) / total).toFixed(1)}%`]);
  return [
    `gateway CPU in the measured window: ${(total / 1000).toFixed(1)} CPU-seconds (${files.length} process(es))`,
    table(['self time by package', 'ms', 'share'], top(selfByPackage, 15)),
    '',
    table(['self time by function', 'ms', 'share'], top(selfByFunction, 25)),
  ].join('\n');
}
