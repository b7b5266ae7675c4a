/**
 * `npm run bench`: the sidecar against a direct call to a fast fake upstream
 * and against pass-through proxies (bare node:http is the floor), interleaved
 * over several rounds (this machine is noisy), medians in one table, every
 * goal of issues 15 and 27 with its value and met/missed, the same as JSON in
 * bench/results/. Four parts, about 4–5 minutes in all:
 *   start     spawn → first served request, sidecar vs a bare node:http proxy (median of --starts);
 *   small     a tiny chat request: 50 connections (autocannon), a 1-connection loop (µs timing,
 *             CPU per request), streams (TTFB, chunk timing);
 *   large     an agent's real request, ~400 KiB / ~100k tokens (bench/agent-body.ts): a
 *             1-connection loop and 8 connections;
 *   inside    the daemon's event-loop delay (max, p99) during each run, and its RSS.
 *
 *   node dist/bench/run.js [--rounds 4] [--duration 5] [--connections 50] [--latency-n 2000]
 *                          [--streams 5] [--chunks 10] [--chunk-delay 20] [--no-refs]
 *                          [--large-rounds 3] [--large-n 40] [--large-duration 4] [--large-kib 400] [--starts 5]
 *   node dist/bench/run.js --scale [...]            100k tokens / 10M ledger rows vs empty, and cold start (scale.ts)
 *   node dist/bench/run.js --profile [--target sidecar|bare] [--duration 10] [--connections 1] [--large]
 *                                                  a .cpuprofile under load (profile.ts)
 *   node dist/bench/run.js --soak 1000000          RSS of the sidecar across that many requests (soak.ts)
 */
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { request } from 'undici';
import { agentChatBody } from './agent-body.js';
import { argOf, environment, hasFlag, log, median, readRss, round, sampleRss, type Child, type LoopDelay } from './common.js';
import { chatBody, chatHeaders, CHAT_PATH, latency, load, streams, type LatencyResult, type LoadResult, type StreamResult } from './measure.js';
import { ms, table, verdicts, writeResults, type Verdict } from './report.js';
import { addBenchToken, cliNodeEnv, ledgerRows, sidecarNodeFlags, startPassthrough, startSidecar, startUpstream, tempDataDir, type PassMode, type StreamShape } from './targets.js';

let loadAtStart: number[] = [];

interface Options {
  rounds: number;
  durationS: number;
  connections: number;
  latencyN: number;
  streams: number;
  shape: StreamShape;
  refs: boolean;
  largeRounds: number;
  largeN: number;
  largeDurationS: number;
  largeKiB: number;
  starts: number;
}

function options(): Options {
  return {
    rounds: Number(argOf('rounds', '4')),
    durationS: Number(argOf('duration', '5')),
    connections: Number(argOf('connections', '50')),
    latencyN: Number(argOf('latency-n', '2000')),
    streams: Number(argOf('streams', '5')),
    shape: { chunks: Number(argOf('chunks', '10')), chunkDelayMs: Number(argOf('chunk-delay', '20')) },
    refs: !hasFlag('no-refs'),
    largeRounds: Number(argOf('large-rounds', '3')),
    largeN: Number(argOf('large-n', '40')),
    largeDurationS: Number(argOf('large-duration', '4')),
    largeKiB: Number(argOf('large-kib', '400')),
    starts: Number(argOf('starts', '5')),
  };
}

interface Target {
  name: string;
  url: string;
  child: Child;
}

interface Round {
  load: LoadResult;
  latency: LatencyResult;
  stream: StreamResult;
  /** Event-loop delay inside the target during the 50-connection run and the 1-connection loop (not for direct). */
  loop50?: LoopDelay;
  loop1?: LoopDelay;
  /** Sidecar only: the largest RSS sampled during the 50-connection run (MB). */
  peakRssMb?: number;
}

interface LargeRound {
  c1: LatencyResult;
  c8: LoadResult;
  loop1?: LoopDelay;
  loop8?: LoopDelay;
  peakRssMb?: number;
}

interface StartRound {
  bare: number;
  sidecar: number;
  sidecarListening: number;
}

async function checkServes(t: Target, token: string, body = chatBody()): Promise<void> {
  const res = await fetch(t.url + CHAT_PATH, { method: 'POST', headers: chatHeaders(token), body });
  const text = await res.text();
  if (res.status !== 200 || !text.includes('"usage"')) throw new Error(`${t.name} answered ${res.status}: ${text.slice(0, 300)}`);
}

/** Runs `fn` and returns its result with the target's event-loop delay over exactly that run (direct has none). */
async function watched<T>(t: Target, fn: () => Promise<T>): Promise<{ r: T; loop?: LoopDelay }> {
  const ipc = t.name !== 'direct';
  if (ipc) await t.child.loopDelay();
  const r = await fn();
  return ipc ? { r, loop: await t.child.loopDelay() } : { r };
}

/** Spawn → the first answered chat completion, ms (the process is stopped afterwards). */
async function firstServed(child: Child, token: string): Promise<number> {
  try {
    const r = await request(child.url + CHAT_PATH, { method: 'POST', headers: chatHeaders(token), body: chatBody() });
    await r.body.arrayBuffer();
    if (r.statusCode !== 200) throw new Error(`cold ${child.name} answered ${r.statusCode}`);
    return round(Number(process.hrtime.bigint() - child.spawnedAt) / 1e6, 1);
  } finally {
    await child.stop();
  }
}

/** Cold starts, interleaved: a bare node:http proxy, then the sidecar on its own data dir (budgeted token). */
async function coldStarts(upstream: Child, n: number): Promise<StartRound[]> {
  const dir = tempDataDir();
  try {
    const tok = addBenchToken(dir);
    const out: StartRound[] = [];
    for (let i = 0; i < n; i++) {
      const bare = await firstServed(await startPassthrough('bare', upstream), tok.secret);
      const sc = await startSidecar(dir, upstream, { name: 'sidecar-cold' });
      const listening = round(Number(sc.readyAt - sc.spawnedAt) / 1e6, 1);
      out.push({ bare, sidecar: await firstServed(sc, tok.secret), sidecarListening: listening });
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (hasFlag('scale')) return (await import('./scale.js')).runScale();
  if (hasFlag('profile')) return (await import('./profile.js')).runProfile();
  if (process.argv.includes('--soak')) return (await import('./soak.js')).runSoak();
  const o = options();
  const started = Date.now();
  loadAtStart = loadavg().map((x) => round(x, 2));
  const children: Child[] = [];
  const dataDir = tempDataDir();
  const big = agentChatBody(o.largeKiB * 1024);
  try {
    const upstream = await startUpstream(o.shape);
    children.push(upstream);
    log(`cold starts: ${o.starts} × (bare node:http, sidecar)`);
    const starts = await coldStarts(upstream, o.starts);

    const modes: PassMode[] = o.refs ? ['bare', 'http-proxy', 'undici'] : ['bare'];
    const targets: Target[] = [{ name: 'direct', url: upstream.url, child: upstream }];
    for (const m of modes) {
      const c = await startPassthrough(m, upstream);
      children.push(c);
      targets.push({ name: m, url: c.url, child: c });
    }
    const tok = addBenchToken(dataDir);
    const sidecar = await startSidecar(dataDir, upstream);
    children.push(sidecar);
    const startRss = readRss(sidecar.pid);
    targets.push({ name: 'sidecar', url: sidecar.url, child: sidecar });
    log(`targets up: ${targets.map((t) => `${t.name}=${t.url}`).join(' ')}; sidecar pid ${sidecar.pid}, data dir ${dataDir}`);

    // Warm-up: every target answers correctly, the JIT and connection pools are warm.
    for (const t of targets) {
      await checkServes(t, tok.secret);
      await latency(t.url, tok.secret, 300, 200);
      await streams(t.url, tok.secret, 1);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const idleRss = readRss(sidecar.pid);
    const idleMemory = (await sidecar.loopDelay()).memory;
    log(`sidecar idle after warm-up: RSS ${idleRss.rssMb} MB (high-water ${idleRss.hwmMb} MB); ${JSON.stringify(idleMemory)}`);
    for (const t of targets) await load(t.url, tok.secret, o.connections, 2);

    const rounds = new Map<string, Round[]>(targets.map((t) => [t.name, []]));
    for (let r = 0; r < o.rounds; r++) {
      // Rotate the order each round so no target always runs first (or right after the heaviest).
      const order = targets.map((_, i) => targets[(i + r) % targets.length]!);
      const partial = new Map<string, Partial<Round>>();
      for (const t of order) {
        const sampler = t.name === 'sidecar' ? sampleRss(sidecar.pid) : null;
        const { r: res, loop } = await watched(t, () => load(t.url, tok.secret, o.connections, o.durationS, t.child.pid));
        partial.set(t.name, { load: res, loop50: loop, ...(sampler ? { peakRssMb: sampler.stop() } : {}) });
      }
      for (const t of order) {
        const { r: res, loop } = await watched(t, () => latency(t.url, tok.secret, o.latencyN, 200, chatBody(), t.child.pid));
        Object.assign(partial.get(t.name)!, { latency: res, loop1: loop });
      }
      for (const t of order) partial.get(t.name)!.stream = await streams(t.url, tok.secret, o.streams);
      for (const t of targets) rounds.get(t.name)!.push(partial.get(t.name) as Round);
      log(
        `small round ${r + 1}/${o.rounds}: ` +
          targets.map((t) => { const x = partial.get(t.name)!; return `${t.name} ${x.load!.rps}/s ${ms(x.latency!.p50)}ms`; }).join(', '),
      );
    }

    // The large request: direct, the bare floor and the sidecar only (the references add little here and cost minutes).
    const largeTargets = targets.filter((t) => t.name === 'direct' || t.name === 'bare' || t.name === 'sidecar');
    for (const t of largeTargets) {
      await checkServes(t, tok.secret, big);
      await latency(t.url, tok.secret, 5, 5, big);
    }
    const large = new Map<string, LargeRound[]>(largeTargets.map((t) => [t.name, []]));
    let largePeakRss = 0;
    for (let r = 0; r < o.largeRounds; r++) {
      const order = largeTargets.map((_, i) => largeTargets[(i + r) % largeTargets.length]!);
      const partial = new Map<string, Partial<LargeRound>>();
      for (const t of order) {
        const sampler = t.name === 'sidecar' ? sampleRss(sidecar.pid) : null;
        const one = await watched(t, () => latency(t.url, tok.secret, o.largeN, 3, big, t.child.pid));
        const eight = await watched(t, () => load(t.url, tok.secret, 8, o.largeDurationS, t.child.pid, big));
        if (sampler) largePeakRss = Math.max(largePeakRss, sampler.stop());
        partial.set(t.name, { c1: one.r, loop1: one.loop, c8: eight.r, loop8: eight.loop });
      }
      for (const t of largeTargets) large.get(t.name)!.push(partial.get(t.name) as LargeRound);
      log(
        `large round ${r + 1}/${o.largeRounds}: ` +
          largeTargets.map((t) => { const x = partial.get(t.name)!; return `${t.name} 1c ${ms(x.c1!.p50)}ms, 8c ${x.c8!.rps}/s`; }).join(', '),
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
    const endRss = readRss(sidecar.pid);
    for (const c of children.reverse()) await c.stop();
    children.length = 0;
    const ledger = ledgerRows(dataDir, tok.tokenId);
    report(o, targets.map((t) => t.name), rounds, large, starts, { start: startRss.rssMb, idle: idleRss.rssMb, idleMemory, end: endRss, largePeak: largePeakRss }, ledger, Buffer.byteLength(big), (Date.now() - started) / 1000);
  } finally {
    for (const c of children.reverse()) await c.stop().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface Summary {
  rps: number;
  p50_50c: number;
  p99_50c: number;
  lat_p50: number;
  lat_p99: number;
  cpu_us_per_req_1c: number;
  ttfb: number;
  stream_total: number;
  stream_reads: number;
  stream_gap: number;
  failures: number;
  cpu_us_per_req: number;
  loop50_max: number;
  loop50_p99: number;
  loop1_max: number;
  loop1_p99: number;
}

const med = <R>(rs: R[], f: (r: R) => number, digits = 3) => round(median(rs.map(f)), digits);
const worst = <R>(rs: R[], f: (r: R) => number | undefined) => Math.max(...rs.map((r) => f(r) ?? Number.NaN));

function summarise(rs: Round[]): Summary {
  return {
    rps: med(rs, (r) => r.load.rps, 0),
    p50_50c: med(rs, (r) => r.load.p50),
    p99_50c: med(rs, (r) => r.load.p99),
    lat_p50: med(rs, (r) => r.latency.p50),
    lat_p99: med(rs, (r) => r.latency.p99),
    cpu_us_per_req_1c: med(rs, (r) => r.latency.cpuUsPerReq, 1),
    ttfb: med(rs, (r) => r.stream.ttfb),
    stream_total: med(rs, (r) => r.stream.total),
    stream_reads: med(rs, (r) => r.stream.reads, 1),
    stream_gap: med(rs, (r) => r.stream.gap),
    failures: rs.reduce((a, r) => a + r.load.failures, 0),
    cpu_us_per_req: med(rs, (r) => r.load.cpuUsPerReq, 1),
    // Loop delay: the worst of the rounds for max, the median for p99.
    loop50_max: worst(rs, (r) => r.loop50?.maxMs),
    loop50_p99: med(rs, (r) => r.loop50?.p99Ms ?? Number.NaN, 2),
    loop1_max: worst(rs, (r) => r.loop1?.maxMs),
    loop1_p99: med(rs, (r) => r.loop1?.p99Ms ?? Number.NaN, 2),
  };
}

interface LargeSummary {
  c1_p50: number;
  c1_p99: number;
  c1_cpu_us: number;
  c8_rps: number;
  c8_p50: number;
  c8_p99: number;
  c8_cpu_us: number;
  failures: number;
  loop_max: number;
  loop_p99: number;
}

function summariseLarge(rs: LargeRound[]): LargeSummary {
  return {
    c1_p50: med(rs, (r) => r.c1.p50),
    c1_p99: med(rs, (r) => r.c1.p99),
    c1_cpu_us: med(rs, (r) => r.c1.cpuUsPerReq, 0),
    c8_rps: med(rs, (r) => r.c8.rps, 1),
    c8_p50: med(rs, (r) => r.c8.p50),
    c8_p99: med(rs, (r) => r.c8.p99),
    c8_cpu_us: med(rs, (r) => r.c8.cpuUsPerReq, 0),
    failures: rs.reduce((a, r) => a + r.c8.failures, 0),
    loop_max: Math.max(worst(rs, (r) => r.loop1?.maxMs), worst(rs, (r) => r.loop8?.maxMs)),
    loop_p99: Math.max(med(rs, (r) => r.loop1?.p99Ms ?? Number.NaN, 2), med(rs, (r) => r.loop8?.p99Ms ?? Number.NaN, 2)),
  };
}

function report(
  o: Options,
  names: string[],
  rounds: Map<string, Round[]>,
  large: Map<string, LargeRound[]>,
  starts: StartRound[],
  rss: { start: number; idle: number; idleMemory: LoopDelay['memory']; end: { rssMb: number; hwmMb: number }; largePeak: number },
  ledger: { rows: number; ok: number; costMicros: number },
  bigBytes: number,
  seconds: number,
): void {
  const s = new Map(names.map((n) => [n, summarise(rounds.get(n)!)]));
  const d = s.get('direct')!;
  const b = s.get('bare')!;
  const sc = s.get('sidecar')!;
  const smallPeak = Math.max(...rounds.get('sidecar')!.map((r) => r.peakRssMb ?? 0));
  const rows = names.map((n) => {
    const x = s.get(n)!;
    return [
      n, x.rps, round(x.rps / b.rps, 2), x.p50_50c, x.p99_50c, x.cpu_us_per_req,
      ms(x.lat_p50), ms(x.lat_p99), ms(x.lat_p50 - b.lat_p50), x.cpu_us_per_req_1c,
      ms(x.ttfb), ms(x.ttfb - b.ttfb), ms(x.stream_total, 1), x.stream_reads, ms(x.stream_gap, 1),
      n === 'direct' ? '—' : `${ms(x.loop50_max, 1)} / ${ms(x.loop1_max, 1)}`, x.failures,
    ];
  });
  const header = [
    'target', 'req/s@50', '×bare', 'p50@50 ms', 'p99@50 ms', 'CPU µs/req@50', '1c p50 ms', '1c p99 ms', '1c +p50 vs bare', 'CPU µs/req@1',
    'TTFB ms', '+TTFB vs bare', 'stream ms', 'reads', 'gap ms', 'loop max ms @50/@1', 'failed',
  ];
  const L = new Map([...large.keys()].map((n) => [n, summariseLarge(large.get(n)!)]));
  const lb = L.get('bare')!;
  const ls = L.get('sidecar')!;
  const largeRows = [...L.entries()].map(([n, x]) => [
    n, ms(x.c1_p50), ms(x.c1_p99), ms(x.c1_p50 - lb.c1_p50), x.c1_cpu_us, x.c8_rps, round(x.c8_rps / lb.c8_rps, 2), x.c8_p50, x.c8_p99, x.c8_cpu_us,
    n === 'direct' ? '—' : `${ms(x.loop_max, 1)} / ${ms(x.loop_p99, 1)}`, x.failures,
  ]);
  const largeHeader = ['target', '1c p50 ms', '1c p99 ms', '1c +p50 vs bare', 'CPU µs/req@1', 'req/s@8', '×bare', 'p50@8 ms', 'p99@8 ms', 'CPU µs/req@8', 'loop max / p99 ms', 'failed'];
  const startBare = round(median(starts.map((x) => x.bare)), 1);
  const startSc = round(median(starts.map((x) => x.sidecar)), 1);
  const startListen = round(median(starts.map((x) => x.sidecarListening)), 1);
  const peakAll = Math.max(smallPeak, rss.largePeak, rss.end.hwmMb);
  const pass = (x: number, ok: boolean) => (Number.isFinite(x) ? ok : false);
  const v: Verdict[] = [
    { name: '400 KiB, 1 conn: added p50 over bare', value: `${ms(ls.c1_p50 - lb.c1_p50)} ms (${ms(ls.c1_p50)} vs ${ms(lb.c1_p50)})`, target: '≤ 2 ms', pass: pass(ls.c1_p50, ls.c1_p50 - lb.c1_p50 <= 2) },
    { name: '400 KiB, 8 conns: throughput / bare', value: `${round(ls.c8_rps / lb.c8_rps, 2)} (${ls.c8_rps} vs ${lb.c8_rps} req/s)`, target: '≥ 0.90', pass: ls.c8_rps / lb.c8_rps >= 0.9 },
    {
      name: 'event-loop delay in the daemon, 400 KiB runs: max / p99',
      value: `${ms(ls.loop_max, 1)} / ${ms(ls.loop_p99, 1)} ms (bare ${ms(lb.loop_max, 1)} / ${ms(lb.loop_p99, 1)})`,
      target: 'max ≤ 5 ms',
      pass: pass(ls.loop_max, ls.loop_max <= 5),
    },
    {
      name: 'event-loop delay in the daemon, small runs: max @50 / @1',
      value: `${ms(sc.loop50_max, 1)} / ${ms(sc.loop1_max, 1)} ms (p99 ${ms(sc.loop50_p99, 1)} / ${ms(sc.loop1_p99, 1)}; bare max ${ms(b.loop50_max, 1)} / ${ms(b.loop1_max, 1)})`,
      target: '(context)',
      pass: null,
    },
    {
      name: 'small, 50 conns: CPU per request / bare',
      value: `${round(sc.cpu_us_per_req / b.cpu_us_per_req, 2)} (${sc.cpu_us_per_req} vs ${b.cpu_us_per_req} µs; throughput ${round(sc.rps / b.rps, 2)}× bare)`,
      target: '≤ 1.3',
      pass: sc.cpu_us_per_req / b.cpu_us_per_req <= 1.3,
    },
    { name: 'small, 1 conn: added p50 over bare', value: `${ms(sc.lat_p50 - b.lat_p50)} ms (${ms(sc.lat_p50)} vs ${ms(b.lat_p50)})`, target: '≤ 0.150 ms', pass: sc.lat_p50 - b.lat_p50 <= 0.15 },
    { name: 'small, 1 conn: p99', value: `${ms(sc.lat_p99)} ms (bare ${ms(b.lat_p99)}, direct ${ms(d.lat_p99)})`, target: '(context; issue 15: ≤ 1 ms)', pass: null },
    {
      name: 'small, 1 conn: CPU per request / bare',
      value: `${round(sc.cpu_us_per_req_1c / b.cpu_us_per_req_1c, 2)} (${sc.cpu_us_per_req_1c} vs ${b.cpu_us_per_req_1c} µs)`,
      target: '≤ 1.5',
      pass: sc.cpu_us_per_req_1c / b.cpu_us_per_req_1c <= 1.5,
    },
    { name: 'streaming: TTFB over bare', value: `${ms(sc.ttfb - b.ttfb)} ms (${ms(sc.ttfb)} vs ${ms(b.ttfb)})`, target: '≤ 0.500 ms', pass: sc.ttfb - b.ttfb <= 0.5 },
    {
      name: 'streaming: chunk timing (total, reads, gap) vs direct',
      value: `${ms(sc.stream_total - d.stream_total, 1)} ms, ${sc.stream_reads} vs ${d.stream_reads} reads, gap ${ms(sc.stream_gap, 1)} vs ${ms(d.stream_gap, 1)} ms`,
      target: 'total ≈ direct, same reads',
      pass: Math.abs(sc.stream_total - d.stream_total) <= 5 && sc.stream_reads >= d.stream_reads - 1,
    },
    {
      name: 'RSS idle (after warm-up)',
      value: `${rss.idle} MB (at start ${rss.start}; JS heap ${rss.idleMemory.heapTotal}, external ${rss.idleMemory.external})`,
      target: '≤ 70 MB',
      pass: rss.idle <= 70,
    },
    {
      name: 'RSS peak, 400 KiB runs included',
      value: `${peakAll} MB (small ${smallPeak}, 400 KiB ${rss.largePeak}, high-water ${rss.end.hwmMb})`,
      target: '≤ 150 MB',
      pass: peakAll <= 150,
    },
    { name: 'RSS flat over 1M requests', value: `idle after all runs ${rss.end.rssMb} MB`, target: '(run --soak 1000000)', pass: null },
    {
      name: 'start to first served request / bare node:http',
      value: `${round(startSc / startBare, 2)} (${startSc} vs ${startBare} ms; sidecar listening after ${startListen} ms)`,
      target: '≤ 1.50',
      pass: startSc / startBare <= 1.5,
    },
    { name: 'budgets exact (0 overspend, no refusal from an over-estimate)', value: 'test/integration/budgets*.test.ts, test/security/f-budget.test.ts', target: '(tests)', pass: null },
    { name: 'sidecar ledger rows (200s / cost)', value: `${ledger.rows} (${ledger.ok} / $${(ledger.costMicros / 1e6).toFixed(2)})`, target: 'one per request', pass: null },
  ];
  const title =
    `SkillBoss Sidecar benchmark: medians of ${o.rounds} interleaved rounds; small: ${o.connections} connections × ${o.durationS} s, ` +
    `1-connection loop ${o.latencyN} requests, ${o.streams} streams/round of ${o.shape.chunks} chunks × ${o.shape.chunkDelayMs} ms; ` +
    `400 KiB (${bigBytes} bytes): ${o.largeRounds} rounds of ${o.largeN} sequential requests and 8 connections × ${o.largeDurationS} s; start: median of ${o.starts}`;
  const env = { ...environment(), loadavg_at_start: loadAtStart, sidecar_node_flags: sidecarNodeFlags().join(' '), sidecar_node_env: cliNodeEnv() };
  const noisy = loadAtStart[0]! > 1.5 || env.loadavg[0]! > 3;
  process.stdout.write(
    `\n${title}\n(${env.node}, ${env.cpus} × ${env.cpu}, commit ${env.commit}, ${Math.round(seconds)} s, load average ${loadAtStart.join(' ')} at start, ${env.loadavg.join(' ')} at end; daemon Node flags: ${env.sidecar_node_flags || 'none'})\n` +
      `${noisy ? 'WARNING: other processes were busy on this machine during the run; compare only within this run, or re-run when it is quiet.\n' : ''}` +
      `\nSmall chat request\n${table(header, rows)}\n` +
      `\n400 KiB agent request (~100k tokens)\n${table(largeHeader, largeRows)}\n` +
      `\nStart to first served request (ms, median of ${starts.length}): bare node:http ${startBare}, sidecar ${startSc} (listening ${startListen})\n` +
      `\n${verdicts(v)}\n`,
  );
  const file = writeResults('', {
    kind: 'bench',
    env,
    options: o,
    seconds: Math.round(seconds),
    medians: Object.fromEntries(s),
    large: Object.fromEntries(L),
    start_ms: { bare: startBare, sidecar: startSc, sidecar_listening: startListen },
    rss: { at_start_mb: rss.start, idle_mb: rss.idle, idle_memory_usage_mb: rss.idleMemory, peak_small_mb: smallPeak, peak_large_mb: rss.largePeak, idle_after_load_mb: rss.end.rssMb, high_water_mb: rss.end.hwmMb },
    ledger,
    verdicts: v,
    rounds: Object.fromEntries(rounds),
    large_rounds: Object.fromEntries(large),
    starts,
  });
  process.stdout.write(`\nJSON: ${file} (and bench/results/latest.json)\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
