/**
 * What every benchmark mode shares: child processes that announce themselves
 * with one JSON line on stdout, small statistics, RSS readings from /proc,
 * and where results go.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** dist/bench, where the compiled child scripts live. */
export const BENCH_DIST = dirname(fileURLToPath(import.meta.url));
/** The repository root (dist/bench/../..). */
export const REPO_ROOT = resolve(BENCH_DIST, '..', '..');
export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
/** The one model the fake upstream serves and prices. */
export const BENCH_MODEL = 'bench-model';

export function ensureResultsDir(sub = ''): string {
  const dir = join(RESULTS_DIR, sub);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The first line a child writes when it is serving. */
export interface ReadyLine {
  ready: true;
  /** Origin it serves on, e.g. http://127.0.0.1:41234 */
  url: string;
  pid: number;
}

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly url: string;
  /** process.hrtime.bigint() just before spawn, and when the ready line arrived. */
  readonly spawnedAt: bigint;
  readonly readyAt: bigint;
  /** SIGTERM, then wait for the exit (a profiled child writes its .cpuprofile on the way out). */
  stop(): Promise<void>;
  /** Started with `ipc: true`: the child's event-loop delay since the last reset (and resets it). */
  loopDelay(): Promise<LoopDelay>;
}

/** Event-loop delay inside a child, from perf_hooks.monitorEventLoopDelay, ms. */
export interface LoopDelay {
  maxMs: number;
  p99Ms: number;
  meanMs: number;
  samples: number;
  /** process.memoryUsage() when asked, MB: what the RSS is made of (JS heap, external buffers). */
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
}

export interface StartChildOptions {
  args?: string[];
  env?: Record<string, string>;
  execArgv?: string[];
  /** How long to wait for the ready line (a 2 GB database's start-up check is slow). */
  readyTimeoutMs?: number;
  /** Open an IPC channel so the parent can ask the child for its event-loop delay (`watchLoopDelay`). */
  ipc?: boolean;
}

/** Spawns `node <execArgv> dist/bench/<script> <args>` and resolves when it prints its ready line. */
export function startChild(name: string, script: string, opts: StartChildOptions = {}): Promise<Child> {
  const spawnedAt = process.hrtime.bigint();
  const proc = spawn(process.execPath, [...(opts.execArgv ?? []), join(BENCH_DIST, script), ...(opts.args ?? [])], {
    stdio: opts.ipc ? ['ignore', 'pipe', 'inherit', 'ipc'] : ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...opts.env },
  });
  const exited = new Promise<void>((res) => proc.once('exit', () => res()));
  return new Promise<Child>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${opts.readyTimeoutMs ?? 30_000} ms`));
    }, opts.readyTimeoutMs ?? 30_000);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before it was ready`));
    };
    proc.once('exit', onExit);
    const lines = createInterface({ input: proc.stdout! });
    // BENCH_CHILD_STDOUT=<dir>: every child's stdout (e.g. the daemon's --trace-gc lines) is also kept in <dir>/<name>.log.
    if (process.env.BENCH_CHILD_STDOUT) {
      const tee = createWriteStream(join(process.env.BENCH_CHILD_STDOUT, `${name}.log`));
      lines.on('line', (l) => tee.write(`${l}\n`));
      proc.once('exit', () => tee.end());
    }
    // Lines before the ready line (e.g. --trace-gc output on stdout) are skipped.
    const onLine = (line: string) => {
      let ready: ReadyLine;
      try {
        ready = JSON.parse(line) as ReadyLine;
        if (ready?.ready !== true) return;
      } catch {
        return;
      }
      const readyAt = process.hrtime.bigint();
      clearTimeout(timer);
      proc.off('exit', onExit);
      lines.off('line', onLine);
      // Keep draining stdout so a chatty child never blocks on a full pipe.
      lines.on('line', () => {});
      resolvePromise({
        name,
        proc,
        pid: ready.pid,
        url: ready.url,
        spawnedAt,
        readyAt,
        loopDelay() {
          if (!proc.send) return Promise.reject(new Error(`${name} was started without ipc`));
          return new Promise<LoopDelay>((res, rej) => {
            const onMsg = (m: unknown) => {
              if (m && typeof m === 'object' && 'loopDelay' in m) {
                proc.off('message', onMsg);
                res((m as { loopDelay: LoopDelay }).loopDelay);
              }
            };
            proc.on('message', onMsg);
            proc.send!('loop-delay', (err) => {
              if (err) {
                proc.off('message', onMsg);
                rej(err);
              }
            });
          });
        },
        async stop() {
          if (proc.exitCode !== null || proc.signalCode !== null) return;
          proc.kill('SIGTERM');
          const killer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
          await exited;
          clearTimeout(killer);
        },
      });
    };
    lines.on('line', onLine);
  });
}

/** Prints the ready line; called by each child once it listens. */
export function announce(url: string): void {
  const line: ReadyLine = { ready: true, url, pid: process.pid };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/**
 * In a child started with `ipc: true`: measures this process's event-loop
 * delay (the time a ready timer waits for the loop, i.e. how long something
 * held it) and answers the parent's 'loop-delay' message with the figures
 * since the previous one. It runs in the process under test, so it sees the
 * daemon's own loop, not the bench's.
 */
export function watchLoopDelay(): void {
  if (!process.send) return;
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  process.on('message', (m) => {
    if (m !== 'loop-delay') return;
    const ms = (ns: number) => round(ns / 1e6, 2);
    const mu = process.memoryUsage();
    const mb = (b: number) => round(b / 2 ** 20, 1);
    const memory = { rss: mb(mu.rss), heapUsed: mb(mu.heapUsed), heapTotal: mb(mu.heapTotal), external: mb(mu.external), arrayBuffers: mb(mu.arrayBuffers) };
    const loopDelay: LoopDelay = { maxMs: ms(h.max), p99Ms: ms(h.percentile(99)), meanMs: ms(h.mean), samples: h.count, memory };
    h.reset();
    process.send!({ loopDelay });
  });
  // The channel must not keep a child alive on its own.
  process.channel?.unref();
}

/** Small argv parser for the children: --name value pairs. */
export function argOf(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i !== -1 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

export function hasFlag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

/** Nearest-rank percentile of unsorted values (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export interface RssReading {
  /** Resident set size now, and its high-water mark since start (MB). */
  rssMb: number;
  hwmMb: number;
}

/** VmRSS and VmHWM of a process, from /proc (Linux only; the bench targets this machine). */
export function readRss(pid: number): RssReading {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: round(kb('VmRSS') / 1024, 1), hwmMb: round(kb('VmHWM') / 1024, 1) };
}

/** Samples a process's RSS on an interval while load runs; `stop()` returns the largest reading. */
export function sampleRss(pid: number, intervalMs = 100): { stop(): number } {
  let max = readRss(pid).rssMb;
  const timer = setInterval(() => {
    try {
      max = Math.max(max, readRss(pid).rssMb);
    } catch {
      /* the process ended; the last reading stands */
    }
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      try {
        max = Math.max(max, readRss(pid).rssMb);
      } catch {
        /* ended */
      }
      return max;
    },
  };
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) a process has used so far, in ms (resolution 1/CLK_TCK s: use over seconds of load). */
export function readCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

export function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export interface Environment {
  node: string;
  cpus: number;
  cpu: string;
  commit: string;
  at: string;
  /** 1, 5 and 15 minute load averages: above ~1.5 on two cores, something else was busy. */
  loadavg: number[];
}

/** Where a result came from: node, CPU, commit, how busy the machine was. */
export function environment(): Environment {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    /* not a git checkout */
  }
  return {
    node: process.version,
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    commit,
    at: new Date().toISOString(),
    loadavg: loadavg().map((x) => round(x, 2)),
  };
}
