// Child processes under test (gateways, the hello-world server) and CPU accounting, so the report
// can say whether the gateway, Postgres or the load driver was the bottleneck.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const repoRoot = new URL('../../', import.meta.url).pathname;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface Served {
  child: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

/** Starts `node --import tsx <script>` with PORT set and waits until `readyPath` answers 200. */
export async function startNodeServer(script: string, env: Record<string, string>, readyPath: string, nodeArgs: string[] = []): Promise<Served> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], {
    cwd: repoRoot,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== null) throw new Error(`${script} exited with ${exited} before it was ready`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}${readyPath}`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${script} was not ready within 60 s`);
    }
    await sleep(200);
  }
  return {
    child,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

const TICKS_PER_SECOND = 100;

function cpuSecondsOf(pid: number): number {
  try {
    // Fields after the parenthesised command: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Postgres backends connected to `database` (their title reads "postgres: [cluster: ]<user> <database> <client> <state>"). */
function postgresPids(database: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(` ${database} `)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

function machineBusySeconds(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const idle = cpu[3]! + cpu[4]!;
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

export interface CpuSplit {
  /** CPU-seconds per wall-second (2.0 = both cores of this machine). */
  servers: number;
  postgres: number;
  driver: number;
  machine: number;
}

/**
 * CPU used between start() and stop(), per wall second: the processes under test, the postgres
 * backends of the benchmark database, this driver, and the whole machine (other users included).
 */
export function cpuMeter(serverPids: () => number[], database: string) {
  const snap = () => {
    const pg = new Map(postgresPids(database).map((pid) => [pid, cpuSecondsOf(pid)]));
    const usage = process.cpuUsage();
    return {
      at: performance.now(),
      servers: serverPids().reduce((s, pid) => s + cpuSecondsOf(pid), 0),
      pg,
      driver: (usage.user + usage.system) / 1e6,
      machine: machineBusySeconds(),
    };
  };
  let start = snap();
  return {
    start() {
      start = snap();
    },
    stop(): CpuSplit {
      const end = snap();
      const wall = (end.at - start.at) / 1000;
      let pg = 0;
      for (const [pid, cpu] of end.pg) pg += cpu - (start.pg.get(pid) ?? 0);
      return {
        servers: (end.servers - start.servers) / wall,
        postgres: pg / wall,
        driver: (end.driver - start.driver) / wall,
        machine: (end.machine.busy - start.machine.busy) / wall,
      };
    },
  };
}

export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
