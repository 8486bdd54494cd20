import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface StackEvent {
  at: number;
  kind: 'started' | 'running' | 'running-again' | 'all-stopped' | 'exited' | 'gave-up' | 'up' | 'repaired' | 'unhandled-rejection' | 'uncaught-exception' | 'listen-lost';
  name?: string;
  pid?: number;
  detail?: unknown;
}

/**
 * The real stack — `scripts/start.ts` and the children it supervises — as a child of the fault suite,
 * whose output it reads: the supervisor's lines give each process's pid and when a restarted one is
 * running again; the processes' JSON log lines tell of reconciler repairs and unhandled errors.
 */
export class Stack {
  private proc: ChildProcess | null = null;
  readonly pids = new Map<string, number>();
  readonly events: StackEvent[] = [];
  private readonly listeners = new Set<(e: StackEvent) => void>();
  private tail: string[] = [];
  exitCode: number | null | undefined = undefined;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly echo = false,
  ) {}

  /** The last lines of output, for a failure message. */
  recentOutput(): string {
    return this.tail.join('\n');
  }

  private emit(e: StackEvent) {
    this.events.push(e);
    for (const l of this.listeners) l(e);
  }

  /** Resolves with the first event (from now on, or already seen when `past`) that matches. */
  next(match: (e: StackEvent) => boolean, timeoutMs: number, past = false): Promise<StackEvent> {
    const seen = past ? this.events.find(match) : undefined;
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`stack event not seen within ${timeoutMs} ms\n${this.recentOutput()}`));
      }, timeoutMs);
      const listener = (e: StackEvent) => {
        if (!match(e)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(e);
      };
      this.listeners.add(listener);
    });
  }

  private onLine(line: string) {
    this.tail.push(line);
    if (this.tail.length > 200) this.tail.shift();
    if (this.echo) console.error(line);
    const at = Date.now();
    let m: RegExpExecArray | null;
    if ((m = /^\[start\] (\S+) (?:started|restarted) \(pid (\d+)\)/.exec(line))) {
      this.pids.set(m[1]!, Number(m[2]));
      this.emit({ at, kind: 'started', name: m[1]!, pid: Number(m[2]) });
    } else if ((m = /^\[start\] (\S+) is running again \(pid (\d+)\), ([\d.]+) s after it died/.exec(line))) {
      this.emit({ at, kind: 'running-again', name: m[1]!, pid: Number(m[2]), detail: Number(m[3]) });
    } else if ((m = /^\[start\] (\S+) is running \(pid (\d+)\)$/.exec(line))) {
      this.emit({ at, kind: 'running', name: m[1]!, pid: Number(m[2]) });
    } else if (line === '[start] all processes stopped') {
      this.emit({ at, kind: 'all-stopped' });
    } else if ((m = /^\[start\] (\S+) (?:exited unexpectedly|could not reach)/.exec(line))) {
      this.emit({ at, kind: line.includes('giving up') ? 'gave-up' : 'exited', name: m[1]! });
    } else if (line.startsWith('[start] fairlabel is up')) {
      this.emit({ at, kind: 'up' });
    } else if (line.startsWith('{')) {
      let entry: { msg?: string; service?: string; repaired?: unknown; level?: number };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        return;
      }
      const msg = entry.msg ?? '';
      if (msg.startsWith('reconciler re-published')) this.emit({ at, kind: 'repaired', name: entry.service, detail: entry.repaired });
      else if (msg.startsWith('unhandled promise rejection')) this.emit({ at, kind: 'unhandled-rejection', name: entry.service, detail: line });
      else if (msg.startsWith('uncaught exception')) this.emit({ at, kind: 'uncaught-exception', name: entry.service, detail: line });
      else if (msg.startsWith('outbox LISTEN connection lost')) this.emit({ at, kind: 'listen-lost', name: entry.service });
    }
  }

  async start(timeoutMs = 120_000): Promise<void> {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: root, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    for (const stream of [proc.stdout, proc.stderr]) {
      let buffer = '';
      stream.on('data', (d: Buffer) => {
        buffer += d.toString();
        let i: number;
        while ((i = buffer.indexOf('\n')) >= 0) {
          this.onLine(buffer.slice(0, i));
          buffer = buffer.slice(i + 1);
        }
      });
    }
    proc.on('exit', (code) => {
      this.exitCode = code;
      this.emit({ at: Date.now(), kind: 'exited', name: 'supervisor', detail: code });
    });
    await this.next((e) => e.kind === 'up' || (e.kind === 'exited' && e.name === 'supervisor'), timeoutMs, true);
    if (this.exitCode !== undefined) throw new Error(`the stack exited with ${this.exitCode} before it was up\n${this.recentOutput()}`);
  }

  /** Whether `pid` is (still) a child of our supervisor, so a recycled pid is never signalled. */
  private isOurs(pid: number): boolean {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return ppid === this.proc?.pid;
    } catch {
      return false;
    }
  }

  /** SIGKILL of one process of the stack; returns its pid, or null when it is not running right now. */
  kill(name: string): number | null {
    const pid = this.pids.get(name);
    if (!pid || !this.isOurs(pid)) return null;
    process.kill(pid, 'SIGKILL');
    return pid;
  }

  /** SIGTERM to the supervisor, as Ctrl-C would; resolves with its exit code. */
  async stop(timeoutMs = 60_000): Promise<number | null> {
    const proc = this.proc;
    if (!proc || this.exitCode !== undefined) return this.exitCode ?? null;
    proc.kill('SIGTERM');
    await this.next((e) => e.kind === 'exited' && e.name === 'supervisor', timeoutMs, true).catch(() => {
      proc.kill('SIGKILL');
    });
    return this.exitCode ?? null;
  }

  /**
   * Last resort for a failed run: SIGKILL the supervisor. Its children see their IPC channel close and
   * stop themselves (announceReady), so no pid is signalled that might belong to someone else by now.
   */
  destroy(): void {
    if (this.exitCode === undefined) this.proc?.kill('SIGKILL');
  }
}
