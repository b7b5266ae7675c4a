/**
 * `npm run bench`: the sidecar against a direct call to a fast fake upstream
 * and against pass-through proxies, interleaved over several rounds (this
 * machine is noisy), medians in one table, the same as JSON in bench/results/.
 *
 *   node dist/bench/run.js [--rounds 4] [--duration 5] [--connections 50] [--latency-n 2000]
 *                          [--streams 5] [--chunks 10] [--chunk-delay 20] [--no-refs]
 *   node dist/bench/run.js --scale [...]            100k tokens / 10M ledger rows vs empty, and cold start (scale.ts)
 *   node dist/bench/run.js --profile [--target sidecar|bare] [--duration 10]   a .cpuprofile under load (profile.ts)
 *   node dist/bench/run.js --soak 1000000          RSS of the sidecar across that many requests (soak.ts)
 */
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { argOf, environment, hasFlag, log, median, readRss, round, sampleRss, type Child } from './common.js';
import { chatBody, chatHeaders, CHAT_PATH, latency, load, streams, type LatencyResult, type LoadResult, type StreamResult } from './measure.js';
import { ms, table, verdicts, writeResults, type Verdict } from './report.js';
import { addBenchToken, ledgerRows, startPassthrough, startSidecar, startUpstream, tempDataDir, type PassMode, type StreamShape } from './targets.js';

let loadAtStart: number[] = [];

interface Options {
  rounds: number;
  durationS: number;
  connections: number;
  latencyN: number;
  streams: number;
  shape: StreamShape;
  refs: boolean;
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
  /** Sidecar only: the largest RSS sampled during the 50-connection run (MB). */
  peakRssMb?: number;
}

async function checkServes(t: Target, token: string): Promise<void> {
  const res = await fetch(t.url + CHAT_PATH, { method: 'POST', headers: chatHeaders(token), body: chatBody() });
  const text = await res.text();
  if (res.status !== 200 || !text.includes('"usage"')) throw new Error(`${t.name} answered ${res.status}: ${text.slice(0, 300)}`);
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
  try {
    const upstream = await startUpstream(o.shape);
    children.push(upstream);
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

    // Warm-up: every target answers correctly, the JIT and connection pools are warm, the tokenizer is loaded.
    for (const t of targets) {
      await checkServes(t, tok.secret);
      await latency(t.url, tok.secret, 300, 200);
      await streams(t.url, tok.secret, 1);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const idleRss = readRss(sidecar.pid);
    log(`sidecar idle after warm-up: RSS ${idleRss.rssMb} MB (high-water ${idleRss.hwmMb} MB)`);
    for (const t of targets) await load(t.url, tok.secret, o.connections, 2);

    const rounds = new Map<string, Round[]>(targets.map((t) => [t.name, []]));
    for (let r = 0; r < o.rounds; r++) {
      // Rotate the order each round so no target always runs first (or right after the heaviest).
      const order = targets.map((_, i) => targets[(i + r) % targets.length]!);
      const partial = new Map<string, Partial<Round>>();
      for (const t of order) {
        const sampler = t.name === 'sidecar' ? sampleRss(sidecar.pid) : null;
        const res = await load(t.url, tok.secret, o.connections, o.durationS, t.child.pid);
        partial.set(t.name, { load: res, ...(sampler ? { peakRssMb: sampler.stop() } : {}) });
      }
      for (const t of order) partial.get(t.name)!.latency = await latency(t.url, tok.secret, o.latencyN);
      for (const t of order) partial.get(t.name)!.stream = await streams(t.url, tok.secret, o.streams);
      for (const t of targets) rounds.get(t.name)!.push(partial.get(t.name) as Round);
      log(
        `round ${r + 1}/${o.rounds}: ` +
          targets.map((t) => { const x = partial.get(t.name)!; return `${t.name} ${x.load!.rps}/s ${ms(x.latency!.p50)}ms`; }).join(', '),
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
    const endRss = readRss(sidecar.pid);
    for (const c of children.reverse()) await c.stop();
    children.length = 0;
    const ledger = ledgerRows(dataDir, tok.tokenId);
    report(o, targets.map((t) => t.name), rounds, { start: startRss.rssMb, idle: idleRss.rssMb, end: endRss }, ledger, (Date.now() - started) / 1000);
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
  ttfb: number;
  stream_total: number;
  stream_reads: number;
  stream_gap: number;
  failures: number;
  cpu_us_per_req: number;
}

function summarise(rs: Round[]): Summary {
  const m = (f: (r: Round) => number, digits = 3) => round(median(rs.map(f)), digits);
  return {
    rps: m((r) => r.load.rps, 0),
    p50_50c: m((r) => r.load.p50),
    p99_50c: m((r) => r.load.p99),
    lat_p50: m((r) => r.latency.p50),
    lat_p99: m((r) => r.latency.p99),
    ttfb: m((r) => r.stream.ttfb),
    stream_total: m((r) => r.stream.total),
    stream_reads: m((r) => r.stream.reads, 1),
    stream_gap: m((r) => r.stream.gap),
    failures: rs.reduce((a, r) => a + r.load.failures, 0),
    cpu_us_per_req: m((r) => r.load.cpuUsPerReq, 1),
  };
}

function report(
  o: Options,
  names: string[],
  rounds: Map<string, Round[]>,
  rss: { start: number; idle: number; end: { rssMb: number; hwmMb: number } },
  ledger: { rows: number; ok: number; costMicros: number },
  seconds: number,
): void {
  const s = new Map(names.map((n) => [n, summarise(rounds.get(n)!)]));
  const d = s.get('direct')!;
  const b = s.get('bare')!;
  const sc = s.get('sidecar')!;
  const peakRss = Math.max(...rounds.get('sidecar')!.map((r) => r.peakRssMb ?? 0));
  const rows = names.map((n) => {
    const x = s.get(n)!;
    return [
      n,
      x.rps,
      round(x.rps / b.rps, 2),
      round(x.rps / d.rps, 2),
      x.p50_50c,
      x.p99_50c,
      x.cpu_us_per_req,
      ms(x.lat_p50),
      ms(x.lat_p99),
      ms(x.lat_p50 - d.lat_p50),
      ms(x.lat_p99 - d.lat_p99),
      ms(x.ttfb),
      ms(x.ttfb - d.ttfb),
      ms(x.stream_total, 1),
      x.stream_reads,
      ms(x.stream_gap, 1),
      x.failures,
    ];
  });
  const header = [
    'target', 'req/s@50', '×bare', '×direct', 'p50@50 ms', 'p99@50 ms', 'CPU µs/req', '1c p50 ms', '1c p99 ms', '+p50 ms', '+p99 ms',
    'TTFB ms', '+TTFB ms', 'stream ms', 'reads', 'gap ms', 'failed',
  ];
  const v: Verdict[] = [
    { name: 'throughput at 50 conns, sidecar/bare', value: String(round(sc.rps / b.rps, 2)), target: '≥ 0.60', pass: sc.rps / b.rps >= 0.6 },
    { name: 'added latency over direct, 1 conn p50', value: `${ms(sc.lat_p50 - d.lat_p50)} ms`, target: '≤ 0.300 ms', pass: sc.lat_p50 - d.lat_p50 <= 0.3 },
    { name: 'added latency over direct, 1 conn p99', value: `${ms(sc.lat_p99 - d.lat_p99)} ms`, target: '≤ 1.000 ms', pass: sc.lat_p99 - d.lat_p99 <= 1 },
    { name: 'streaming TTFB overhead over direct', value: `${ms(sc.ttfb - d.ttfb)} ms`, target: '≤ 1.000 ms', pass: sc.ttfb - d.ttfb <= 1 },
    {
      name: 'chunk timing preserved (total, reads, gap)',
      value: `${ms(sc.stream_total - d.stream_total, 1)} ms, ${sc.stream_reads} vs ${d.stream_reads}, ${ms(sc.stream_gap, 1)} vs ${ms(d.stream_gap, 1)} ms`,
      target: 'total ≈ direct, same reads',
      pass: Math.abs(sc.stream_total - d.stream_total) <= 5 && sc.stream_reads >= d.stream_reads - 1,
    },
    { name: 'sidecar RSS idle (after warm-up)', value: `${rss.idle} MB (at start ${rss.start})`, target: '≤ 80 MB', pass: rss.idle <= 80 },
    { name: 'sidecar RSS peak under load', value: `${peakRss} MB (HWM ${rss.end.hwmMb})`, target: '≤ 150 MB', pass: peakRss <= 150 },
    { name: 'sidecar RSS idle after all load', value: `${rss.end.rssMb} MB`, target: '(flat: see --soak)', pass: null },
    { name: 'sidecar ledger rows (200s / cost)', value: `${ledger.rows} (${ledger.ok} / $${(ledger.costMicros / 1e6).toFixed(2)})`, target: 'one per request', pass: null },
  ];
  const title =
    `SkillBoss Sidecar benchmark: medians of ${o.rounds} interleaved rounds; ${o.connections} connections × ${o.durationS} s; ` +
    `1-connection loop ${o.latencyN} requests; ${o.streams} streams/round of ${o.shape.chunks} chunks × ${o.shape.chunkDelayMs} ms`;
  const env = { ...environment(), loadavg_at_start: loadAtStart };
  const noisy = loadAtStart[0]! > 1.5 || env.loadavg[0]! > 3;
  process.stdout.write(
    `\n${title}\n(${env.node}, ${env.cpus} × ${env.cpu}, commit ${env.commit}, ${Math.round(seconds)} s, load average ${loadAtStart.join(' ')} at start, ${env.loadavg.join(' ')} at end)\n` +
      `${noisy ? 'WARNING: other processes were busy on this machine during the run; compare only within this run, or re-run when it is quiet.\n' : ''}\n${table(header, rows)}\n\n${verdicts(v)}\n`,
  );
  const file = writeResults('', {
    kind: 'bench',
    env,
    options: o,
    seconds: Math.round(seconds),
    medians: Object.fromEntries(s),
    ratios: {
      sidecar_over_bare_rps: round(sc.rps / b.rps, 3),
      sidecar_over_direct_rps: round(sc.rps / d.rps, 3),
      added_latency_p50_ms: round(sc.lat_p50 - d.lat_p50, 3),
      added_latency_p99_ms: round(sc.lat_p99 - d.lat_p99, 3),
      ttfb_overhead_ms: round(sc.ttfb - d.ttfb, 3),
      stream_total_overhead_ms: round(sc.stream_total - d.stream_total, 3),
    },
    rss: { at_start_mb: rss.start, idle_mb: rss.idle, peak_under_load_mb: peakRss, idle_after_load_mb: rss.end.rssMb, high_water_mb: rss.end.hwmMb },
    ledger,
    verdicts: v,
    rounds: Object.fromEntries(rounds),
  });
  process.stdout.write(`\nJSON: ${file} (and bench/results/latest.json)\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
