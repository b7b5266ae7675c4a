/**
 * `node dist/bench/run.js --profile [--target sidecar|bare] [--duration 10] [--connections 50] [--large] [--n 5000]`:
 * runs one target under `node --cpu-prof` with 50-connection load (or, with
 * `--connections 1`, `--n` sequential requests on one connection: the fixed
 * per-request cost that concurrency amortises; `--large` sends the 400 KiB
 * agent request instead of the small one), then walks
 * the .cpuprofile and prints where the time went: self time per function,
 * inclusive time per function of ours, and self time per package/module.
 * The profile and its summary are kept under bench/results/profiles/.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { argOf, ensureResultsDir, hasFlag, log, round, timestamp, type Child } from './common.js';
import { agentChatBody } from './agent-body.js';
import { chatBody, latency, load, type LoadResult } from './measure.js';
import { table } from './report.js';
import { addBenchToken, startPassthrough, startSidecar, startUpstream, tempDataDir } from './targets.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Which package or module a frame belongs to: our files by name, dependencies by package, node internals as `node:…`. */
export function moduleOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native/builtin)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const dist = url.indexOf('/dist/');
  if (dist !== -1) return url.slice(dist + 1).replace(/^dist\//, '');
  if (url.startsWith('node:')) {
    const m = /^node:(internal\/)?([^/]+)/.exec(url);
    return `node:${m?.[2] ?? url}`;
  }
  return url;
}

function keyOf(f: CallFrame): string {
  const name = (f.functionName || '(anonymous)').slice(0, 60);
  return `${name} ${moduleOf(f.url, f.functionName)}:${f.lineNumber + 1}`;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  busyMs: number;
  selfByFunction: Array<{ fn: string; ms: number; pct: number }>;
  selfByModule: Array<{ module: string; ms: number; pct: number }>;
  inclusiveOurs: Array<{ fn: string; ms: number; pct: number }>;
}

/**
 * Self time per function and module, and inclusive time of our own functions
 * (each sample counted once per function on its stack). `window` keeps only
 * samples taken between two CLOCK_MONOTONIC instants in µs (V8 stamps
 * samples with the same clock as process.hrtime), i.e. the load run without
 * start-up and warm-up.
 */
export function summarise(p: CpuProfile, window?: { fromUs: number; toUs: number }, top = 25): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfFn = new Map<string, number>();
  const selfMod = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i] ?? 0;
    if (window && (at < window.fromUs || at > window.toUs)) continue;
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(p.samples[i]!);
    if (!node) continue;
    total += dt;
    const f = node.callFrame;
    if (f.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    selfFn.set(keyOf(f), (selfFn.get(keyOf(f)) ?? 0) + dt);
    const mod = moduleOf(f.url, f.functionName);
    selfMod.set(mod, (selfMod.get(mod) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const cf = byId.get(id)!.callFrame;
      if (!cf.url.includes('/dist/proxy/') && !cf.url.includes('/dist/bundle/')) continue;
      const k = keyOf(cf);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + dt);
    }
  }
  const busy = total - idle;
  const rank = (m: Map<string, number>) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => ({ k, ms: round(v, 1), pct: round((100 * v) / busy, 1) }));
  return {
    totalMs: round(total, 1),
    idleMs: round(idle, 1),
    busyMs: round(busy, 1),
    selfByFunction: rank(selfFn).map(({ k, ms, pct }) => ({ fn: k, ms, pct })),
    selfByModule: rank(selfMod).map(({ k, ms, pct }) => ({ module: k, ms, pct })),
    inclusiveOurs: rank(incl).map(({ k, ms, pct }) => ({ fn: k, ms, pct })),
  };
}

/**
 * The profiler samples wall time: a thread waiting for a core (or in a
 * syscall) still collects samples, so on a busy machine the sampled "busy" time
 * exceeds the CPU the process really used. The last column rescales each
 * share to the CPU time per request read from /proc.
 */
export function printSummary(s: ProfileSummary, requests: number, cpuUsPerReq: number): string {
  const perReq = (msv: number) => round((msv * 1000) / Math.max(1, requests), 1);
  const cpu = (pct: number) => round((pct * cpuUsPerReq) / 100, 1);
  const head =
    `CPU profile of the load run: ${s.totalMs} ms sampled, ${s.busyMs} ms busy (${s.idleMs} ms idle); ${requests} requests → ` +
    `${perReq(s.busyMs)} µs sampled/request, ${cpuUsPerReq} µs CPU/request (from /proc)`;
  const cols = ['ms', '% busy', 'sampled µs/req', 'CPU µs/req'];
  return [
    head,
    '',
    'Self time by package/module',
    table(['module', ...cols], s.selfByModule.map((r) => [r.module, r.ms, r.pct, perReq(r.ms), cpu(r.pct)])),
    '',
    'Self time by function',
    table(['function', ...cols], s.selfByFunction.map((r) => [r.fn, r.ms, r.pct, perReq(r.ms), cpu(r.pct)])),
    '',
    'Inclusive time of the sidecar’s own functions (dist/proxy)',
    table(['function', ...cols], s.inclusiveOurs.map((r) => [r.fn, r.ms, r.pct, perReq(r.ms), cpu(r.pct)])),
  ].join('\n');
}

export async function runProfile(): Promise<void> {
  const target = argOf('target', 'sidecar');
  const durationS = Number(argOf('duration', '10'));
  const connections = Number(argOf('connections', '50'));
  const body = hasFlag('large') ? agentChatBody() : chatBody();
  const n = Number(argOf('n', hasFlag('large') ? '200' : '5000'));
  const dir = ensureResultsDir('profiles');
  const name = `${target}-${timestamp()}`;
  // Every thread writes a profile (the tokenizer pool's too): each run gets its own directory, and the main thread's is the one
  // named after the process's first thread (Node's default name ends in .<pid>.0.<seq>.cpuprofile).
  const runDir = ensureResultsDir(join('profiles', name));
  const execArgv = ['--cpu-prof', `--cpu-prof-dir=${runDir}`];
  const children: Child[] = [];
  const dataDir = tempDataDir();
  try {
    const upstream = await startUpstream({ chunks: 10, chunkDelayMs: 20 });
    children.push(upstream);
    const tok = addBenchToken(dataDir);
    let child: Child;
    if (target === 'sidecar') child = await startSidecar(dataDir, upstream, { execArgv });
    else if (target === 'bare') child = await startPassthrough('bare', upstream, execArgv);
    else throw new Error(`--target must be sidecar or bare, not ${target}`);
    children.push(child);
    await latency(child.url, tok.secret, 20, 20, body);
    log(`profiling ${target} (pid ${child.pid}) under ${connections === 1 ? `${n} sequential requests` : `${connections} connections for ${durationS} s`}`);
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    let res: LoadResult;
    if (connections === 1) {
      const t0 = Date.now();
      const l = await latency(child.url, tok.secret, n, 0, body, child.pid);
      res = { rps: Math.round((n * 1000) / (Date.now() - t0)), p50: l.p50, p99: l.p99, requests: n, failures: 0, cpuUsPerReq: l.cpuUsPerReq };
    } else {
      res = await load(child.url, tok.secret, connections, durationS, child.pid, body);
    }
    const toUs = Number(process.hrtime.bigint() / 1000n);
    await child.stop();
    const file = readdirSync(runDir).find((f) => f.endsWith(`.${child.pid}.0.001.cpuprofile`)) ?? readdirSync(runDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no profile was written to ${runDir}`);
    const profile = JSON.parse(readFileSync(join(runDir, file), 'utf8')) as CpuProfile;
    const requests = res.requests;
    const s = summarise(profile, { fromUs, toUs });
    const text = printSummary(s, requests, res.cpuUsPerReq);
    process.stdout.write(
      `\n${target}: ${res.rps} req/s at ${connections} connections, ${res.failures} failed, ${res.cpuUsPerReq} µs CPU/request (from /proc)\n${text}\n`,
    );
    writeFileSync(join(dir, `${name}.summary.json`), `${JSON.stringify({ target, load: res, requests, ...s }, null, 2)}\n`);
    process.stdout.write(`\nprofile: ${join(runDir, file)}\nsummary: ${join(dir, `${name}.summary.json`)}\n`);
  } finally {
    for (const c of children.reverse()) await c.stop().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  }
}
