/**
 * `npm run bench:scale` (node dist/bench/run.js --scale):
 *   1. the hot path on a database with 100k tokens and 10M ledger rows against
 *      an empty one: the same 1-connection latency loop (and a short
 *      50-connection run), both sidecars up at once, rounds interleaved;
 *   2. cold start to the first served request: spawn the sidecar, time until
 *      an authenticated chat completion comes back 200; median of several.
 * The seeded database is built once and cached under
 * bench/results/scale-cache/<tokens>-<rows>/ (it is ~2 GB); later runs reuse it
 * (each run adds one bench token and a few thousand ledger rows to it).
 * Options: --tokens 100000 --rows 10000000 --rounds 4 --latency-n 2000 --duration 3 --starts 5 --reseed
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { argOf, ensureResultsDir, environment, hasFlag, log, median, readRss, round, type Child } from './common.js';
import { chatBody, chatHeaders, CHAT_PATH, latency, load, type LatencyResult, type LoadResult } from './measure.js';
import { ms, table, verdicts, writeResults, type Verdict } from './report.js';
import { seedDatabase, type SeedResult } from './seed.js';
import { addBenchToken, startSidecar, startUpstream, tempDataDir } from './targets.js';

interface ColdStart {
  /** spawn → listening (ready line), and spawn → first 200 to an authenticated chat completion, ms. */
  listeningMs: number;
  firstServedMs: number;
}

async function ensureSeeded(tokens: number, rows: number): Promise<{ dir: string; seed: SeedResult; seededNow: boolean }> {
  const dir = ensureResultsDir(join('scale-cache', `${tokens}-${rows}`));
  const marker = join(dir, 'seed.json');
  if (existsSync(marker) && !hasFlag('reseed')) return { dir, seed: JSON.parse(readFileSync(marker, 'utf8')) as SeedResult, seededNow: false };
  rmSync(dir, { recursive: true, force: true });
  ensureResultsDir(join('scale-cache', `${tokens}-${rows}`));
  log(`seeding ${tokens.toLocaleString('en-US')} tokens and ${rows.toLocaleString('en-US')} ledger rows into ${dir} (once; reused by later runs)`);
  const seed = seedDatabase(dir, { tokens, usageRows: rows }, log);
  writeFileSync(marker, `${JSON.stringify(seed, null, 2)}\n`);
  return { dir, seed, seededNow: true };
}

async function coldStart(dataDir: string, upstream: Child, secret: string, readyTimeoutMs: number): Promise<ColdStart> {
  const child = await startSidecar(dataDir, upstream, { name: 'sidecar-cold', readyTimeoutMs });
  try {
    const r = await request(child.url + CHAT_PATH, { method: 'POST', headers: chatHeaders(secret), body: chatBody() });
    await r.body.arrayBuffer();
    const served = process.hrtime.bigint();
    if (r.statusCode !== 200) throw new Error(`cold sidecar answered ${r.statusCode}`);
    return { listeningMs: round(Number(child.readyAt - child.spawnedAt) / 1e6, 1), firstServedMs: round(Number(served - child.spawnedAt) / 1e6, 1) };
  } finally {
    await child.stop();
  }
}

export async function runScale(): Promise<void> {
  const tokens = Number(argOf('tokens', '100000'));
  const rows = Number(argOf('rows', '10000000'));
  const rounds = Number(argOf('rounds', '4'));
  const latencyN = Number(argOf('latency-n', '2000'));
  const durationS = Number(argOf('duration', '3'));
  const starts = Number(argOf('starts', '5'));
  const started = Date.now();
  const { dir: bigDir, seed, seededNow } = await ensureSeeded(tokens, rows);
  const emptyDir = tempDataDir();
  const tokEmpty = addBenchToken(emptyDir);
  const tokBig = addBenchToken(bigDir);
  const children: Child[] = [];
  const slowStart = 15 * 60_000;
  try {
    const upstream = await startUpstream({ chunks: 10, chunkDelayMs: 20 });
    children.push(upstream);
    const empty = await startSidecar(emptyDir, upstream, { name: 'sidecar-empty' });
    children.push(empty);
    const big = await startSidecar(bigDir, upstream, { name: 'sidecar-scale', readyTimeoutMs: slowStart });
    children.push(big);
    log(`sidecars up: empty ${empty.url}, scale ${big.url} (listening after ${round(Number(big.readyAt - big.spawnedAt) / 1e6, 0)} ms)`);
    const sides = [
      { name: 'empty', child: empty, secret: tokEmpty.secret },
      { name: 'scale', child: big, secret: tokBig.secret },
    ];
    for (const s of sides) {
      await latency(s.child.url, s.secret, 500, 200);
      await load(s.child.url, s.secret, 50, 2);
    }
    const lat = new Map<string, LatencyResult[]>(sides.map((s) => [s.name, []]));
    const thr = new Map<string, LoadResult[]>(sides.map((s) => [s.name, []]));
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? sides : [...sides].reverse();
      for (const s of order) lat.get(s.name)!.push(await latency(s.child.url, s.secret, latencyN));
      for (const s of order) thr.get(s.name)!.push(await load(s.child.url, s.secret, 50, durationS));
      log(`round ${r + 1}/${rounds}: ` + sides.map((s) => `${s.name} p50 ${ms(lat.get(s.name)![r]!.p50)} ms, ${thr.get(s.name)![r]!.rps}/s`).join('; '));
    }
    const rss = Object.fromEntries(sides.map((s) => [s.name, readRss(s.child.pid)]));
    await big.stop();
    await empty.stop();

    const cold = new Map<string, ColdStart[]>([['empty', []], ['scale', []]]);
    for (let i = 0; i < starts; i++) {
      cold.get('empty')!.push(await coldStart(emptyDir, upstream, tokEmpty.secret, 30_000));
      cold.get('scale')!.push(await coldStart(bigDir, upstream, tokBig.secret, slowStart));
      log(`cold start ${i + 1}/${starts}: empty ${cold.get('empty')![i]!.firstServedMs} ms, scale ${cold.get('scale')![i]!.firstServedMs} ms`);
    }
    await upstream.stop();
    children.length = 0;

    const med = (name: string) => {
      const l = lat.get(name)!;
      const t = thr.get(name)!;
      const c = cold.get(name)!;
      return {
        lat_p50: round(median(l.map((x) => x.p50)), 3),
        lat_p99: round(median(l.map((x) => x.p99)), 3),
        rps: Math.round(median(t.map((x) => x.rps))),
        failures: t.reduce((a, x) => a + x.failures, 0),
        listening_ms: round(median(c.map((x) => x.listeningMs)), 1),
        first_served_ms: round(median(c.map((x) => x.firstServedMs)), 1),
        rss_mb: rss[name]!.rssMb,
      };
    };
    const e = med('empty');
    const b = med('scale');
    const header = ['database', '1c p50 ms', '1c p99 ms', '×empty p50', '×empty p99', 'req/s@50', 'failed', 'listening ms', 'first 200 ms', 'RSS MB'];
    const row = (n: string, x: typeof e) => [n, ms(x.lat_p50), ms(x.lat_p99), round(x.lat_p50 / e.lat_p50, 3), round(x.lat_p99 / e.lat_p99, 3), x.rps, x.failures, x.listening_ms, x.first_served_ms, x.rss_mb];
    const v: Verdict[] = [
      { name: 'hot-path p50 at scale vs empty', value: `${round((b.lat_p50 / e.lat_p50 - 1) * 100, 1)} %`, target: '≤ +10 %', pass: b.lat_p50 <= e.lat_p50 * 1.1 },
      { name: 'hot-path p99 at scale vs empty', value: `${round((b.lat_p99 / e.lat_p99 - 1) * 100, 1)} %`, target: '(≤ +10 %)', pass: b.lat_p99 <= e.lat_p99 * 1.1 },
      { name: 'cold start to first served request (empty)', value: `${e.first_served_ms} ms`, target: '≤ 500 ms', pass: e.first_served_ms <= 500 },
      { name: 'cold start to first served request (scale)', value: `${b.first_served_ms} ms`, target: '≤ 500 ms', pass: b.first_served_ms <= 500 },
    ];
    const gb = round(seed.bytes / 2 ** 30, 2);
    process.stdout.write(
      `\nSkillBoss Sidecar scale benchmark: ${tokens.toLocaleString('en-US')} tokens, ${rows.toLocaleString('en-US')} ledger rows (${gb} GiB; ` +
        `seeded in ${seed.seconds} s${seededNow ? ' this run' : ', cached'}) vs an empty database; medians of ${rounds} rounds of ${latencyN} ` +
        `sequential requests and ${durationS} s at 50 connections; cold start median of ${starts}\n\n` +
        `${table(header, [row('empty', e), row('scale', b)])}\n\n${verdicts(v)}\n`,
    );
    const file = writeResults('scale-', {
      kind: 'scale',
      env: environment(),
      seconds: Math.round((Date.now() - started) / 1000),
      seed,
      seededNow,
      medians: { empty: e, scale: b },
      verdicts: v,
      rounds: { latency: Object.fromEntries(lat), load: Object.fromEntries(thr), cold: Object.fromEntries(cold) },
    });
    process.stdout.write(`\nJSON: ${file} (and bench/results/scale-latest.json)\n`);
  } finally {
    for (const c of children.reverse()) await c.stop().catch(() => {});
    rmSync(emptyDir, { recursive: true, force: true });
  }
}
