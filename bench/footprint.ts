/**
 * Where the daemon's RSS is (issue 27 item 3): runs the sidecar as the bench
 * does (bench/sidecar.js, the CLI's `#!` flags unless a variant says
 * otherwise) with the fp-preload probe, through the bench's phases (warm-up,
 * idle, 50 connections of the small chat, the 400 KiB body at 1 and 8
 * connections), and reports per phase the RSS from /proc, smaps by kind, each
 * thread's heap by space and the GC counts. Variants run one after another
 * in the same run, so they can be compared.
 *   node dist/bench/footprint.js '[{"name":"base"},{"name":"arena2","env":{"MALLOC_ARENA_MAX":"2"}}]'
 * A variant: { name, env?, flags? (replace the CLI's), extraFlags? (after them) }.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { agentChatBody } from './agent-body.js';
import { BENCH_DIST, readRss, sampleRss, startChild, type Child } from './common.js';
import { chatBody, chatHeaders, CHAT_PATH, latency, load, streams } from './measure.js';
import { addBenchToken, cliNodeEnv, sidecarNodeFlags, startUpstream, tempDataDir } from './targets.js';

interface Variant { name: string; dist?: string; env?: Record<string, string>; flags?: string[]; extraFlags?: string[]; settleS?: number }

function smaps(pid: number) {
  const text = readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n');
  const out: Record<string, number> = { code_node: 0, node_ro: 0, node_data: 0, code_so: 0, file_other: 0, brk_heap: 0, arena: 0, anon_other: 0, stack: 0 };
  const maps: { start: bigint; end: bigint; perms: string; path: string; rss: number }[] = [];
  let cur: (typeof maps)[number] | null = null;
  for (const l of text) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(l);
    if (m) { cur = { start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), perms: m[3]!, path: m[4]!, rss: 0 }; maps.push(cur); continue; }
    const r = /^Rss:\s+(\d+) kB/.exec(l);
    if (r && cur) cur.rss = Number(r[1]);
  }
  const ARENA = 64n * 1024n * 1024n;
  for (let i = 0; i < maps.length; i++) {
    const x = maps[i]!;
    let k: string;
    if (x.path.endsWith('/node') || x.path.includes('bin/node')) k = x.perms.includes('x') ? 'code_node' : x.perms.startsWith('rw') ? 'node_data' : 'node_ro';
    else if (x.path.includes('.so') || x.path.includes('.node')) k = 'code_so';
    else if (x.path === '[heap]') k = 'brk_heap';
    else if (x.path.startsWith('[stack')) k = 'stack';
    else if (x.path.startsWith('/')) k = 'file_other';
    else {
      // A glibc arena: 64 MiB-aligned anonymous rw part, the rest of its 64 MiB reserved (---p) right after.
      const next = maps[i + 1];
      const isArena = x.start % ARENA === 0n && x.perms.startsWith('rw') && ((x.end - x.start === ARENA) || (next && next.start === x.end && next.perms === '---p' && next.end - x.start === ARENA));
      k = isArena ? 'arena' : 'anon_other';
    }
    out[k]! += x.rss;
  }
  for (const k of Object.keys(out)) out[k] = Math.round((out[k]! / 1024) * 10) / 10;
  return out;
}

function fp(c: Child, what = 'fp'): Promise<unknown> {
  return new Promise((res) => {
    const on = (m: unknown) => {
      if (m && typeof m === 'object' && 'fp' in m) { c.proc.off('message', on); res((m as { fp: unknown }).fp); }
    };
    c.proc.on('message', on);
    c.proc.send!(what);
  });
}

async function snapshot(phase: string, c: Child, extra: Record<string, unknown> = {}) {
  const r = readRss(c.pid);
  const s = smaps(c.pid);
  const f = (await fp(c)) as { jobs: unknown; main: unknown; workers: unknown[]; gc: unknown; mu: unknown };
  console.log(JSON.stringify({ phase, rss: r.rssMb, hwm: r.hwmMb, ...extra, smaps: s, mu: f.mu, gc: f.gc, jobs: f.jobs, main: f.main, workers: f.workers }));
}

async function runVariant(v: Variant, upstream: Child, big: string) {
  const dir = tempDataDir();
  const tok = addBenchToken(dir);
  const flags = [...(v.flags ?? sidecarNodeFlags()), ...(v.extraFlags ?? []), '--import', join(BENCH_DIST, 'fp-preload.js')];
  console.log(JSON.stringify({ variant: v.name, flags, env: v.env ?? {} }));
  const c = await startChild(v.name, v.dist ? join('..', '..', v.dist, 'bench', 'sidecar.js') : 'sidecar.js', {
    execArgv: flags, ipc: true,
    env: { ...(v.env ?? (v.flags ? {} : cliNodeEnv())), BENCH_DATA_DIR: dir, BENCH_UPSTREAM_URL: `${upstream.url}/v1`, BENCH_UPSTREAM_KEY: 'sk-bench-upstream-key-0000000000' },
  });
  try {
    await snapshot('start', c);
    const res = await fetch(c.url + CHAT_PATH, { method: 'POST', headers: chatHeaders(tok.secret), body: chatBody() });
    if (res.status !== 200) throw new Error(`answered ${res.status}`);
    await res.text();
    await latency(c.url, tok.secret, 300, 200);
    await streams(c.url, tok.secret, 1);
    await new Promise((r) => setTimeout(r, 1000));
    await snapshot('idle', c);
    if (v.name.includes('gcprobe')) {
      await fp(c, 'gc-minor');
      await snapshot('idle+minor', c);
      await fp(c, 'gc-major');
      await snapshot('idle+major', c);
      await new Promise((r) => setTimeout(r, 9000));
      await snapshot('idle+9s', c);
    }
    await load(c.url, tok.secret, 50, 2);
    let s = sampleRss(c.pid, 50);
    const small = await load(c.url, tok.secret, 50, 5, c.pid);
    await snapshot('after-small50', c, { peak: s.stop(), rps: small.rps, fail: small.failures });
    const r0 = await fetch(c.url + CHAT_PATH, { method: 'POST', headers: chatHeaders(tok.secret), body: big });
    if (r0.status !== 200) throw new Error(`big answered ${r0.status}`);
    await r0.text();
    await latency(c.url, tok.secret, 5, 5, big);
    s = sampleRss(c.pid, 50);
    const one = await latency(c.url, tok.secret, 40, 3, big, c.pid);
    await snapshot('after-large1', c, { peak: s.stop(), p50: one.p50 });
    s = sampleRss(c.pid, 50);
    const eight = await load(c.url, tok.secret, 8, 4, c.pid, big);
    await snapshot('after-large8', c, { peak: s.stop(), rps: eight.rps, fail: eight.failures, p99: eight.p99, cpuUs: eight.cpuUsPerReq });
    // A second round, as the bench's rounds 2 and 3 run: the tokenizer thread the first round's cut-off requests started is still there.
    s = sampleRss(c.pid, 50);
    await latency(c.url, tok.secret, 40, 3, big, c.pid);
    const eight2 = await load(c.url, tok.secret, 8, 4, c.pid, big);
    await snapshot('after-large8b', c, { peak: s.stop(), rps: eight2.rps, fail: eight2.failures, p99: eight2.p99, cpuUs: eight2.cpuUsPerReq });
    await new Promise((r) => setTimeout(r, 1000));
    await snapshot('end+1s', c);
    if (v.name.includes('gcprobe')) {
      await fp(c, 'gc-minor');
      await snapshot('end+minor', c);
      await fp(c, 'gc-major');
      await snapshot('end+major', c);
    }
    if (v.settleS) {
      await new Promise((r) => setTimeout(r, v.settleS! * 1000));
      await snapshot(`end+${v.settleS}s`, c);
    }
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const variants = JSON.parse(process.argv[2] ?? '[{"name":"base"}]') as Variant[];
const upstream = await startUpstream({ chunks: 10, chunkDelayMs: 20 });
const big = agentChatBody(400 * 1024);
try {
  for (const v of variants) await runVariant(v, upstream, big);
} finally {
  await upstream.stop();
}
