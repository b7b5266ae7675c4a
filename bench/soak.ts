/**
 * `node dist/bench/run.js --soak 1000000 [--connections 50]`: the sidecar's
 * RSS across that many non-streamed requests, read every second, to show it
 * stays flat (a leak grows with requests, not with time). Roughly 5 minutes
 * per million on a 2-core machine; not part of `npm run bench`.
 */
import { rmSync } from 'node:fs';
import autocannon from 'autocannon';
import { argOf, log, readRss, round, type Child } from './common.js';
import { chatBody, chatHeaders, CHAT_PATH, latency } from './measure.js';
import { table, writeResults } from './report.js';
import { addBenchToken, ledgerRows, startSidecar, startUpstream, tempDataDir } from './targets.js';

export async function runSoak(): Promise<void> {
  const amount = Number(argOf('soak', '1000000'));
  const connections = Number(argOf('connections', '50'));
  const children: Child[] = [];
  const dataDir = tempDataDir();
  try {
    const upstream = await startUpstream({ chunks: 10, chunkDelayMs: 20 });
    children.push(upstream);
    const tok = addBenchToken(dataDir);
    const sidecar = await startSidecar(dataDir, upstream);
    children.push(sidecar);
    await latency(sidecar.url, tok.secret, 500, 200);
    const idle = readRss(sidecar.pid);
    log(`soak: ${amount} requests at ${connections} connections; idle RSS ${idle.rssMb} MB`);
    const samples: Array<{ s: number; requests: number; rssMb: number }> = [];
    let done = 0;
    const t0 = Date.now();
    const run = autocannon({
      url: sidecar.url + CHAT_PATH,
      method: 'POST',
      headers: chatHeaders(tok.secret),
      body: chatBody(),
      connections,
      amount,
      timeout: 10,
    });
    run.on('response', () => {
      done++;
    });
    const timer = setInterval(() => {
      const r = readRss(sidecar.pid);
      samples.push({ s: Math.round((Date.now() - t0) / 1000), requests: done, rssMb: r.rssMb });
      if (samples.length % 30 === 0) log(`soak: ${done} requests, RSS ${r.rssMb} MB`);
    }, 1000);
    const result = await run;
    clearInterval(timer);
    await new Promise((r) => setTimeout(r, 2000));
    const after = readRss(sidecar.pid);
    await sidecar.stop();
    const ledger = ledgerRows(dataDir, tok.tokenId);
    // RSS at each tenth of the run: flat means the later tenths are no higher than the early ones.
    // (A short soak may have fewer than ten one-second samples.)
    const parts = Math.min(10, samples.length);
    const tenths = Array.from({ length: parts }, (_, i) => samples[Math.max(0, Math.min(samples.length - 1, Math.floor(((i + 1) * samples.length) / parts) - 1))]!);
    const rows = tenths.map((x) => [x.requests, x.s, x.rssMb]);
    const secondHalf = samples.slice(samples.length >> 1).map((x) => x.rssMb);
    const firstQuarterMax = Math.max(...samples.slice(0, Math.max(1, samples.length >> 2)).map((x) => x.rssMb));
    process.stdout.write(
      `\nsoak: ${(result.requests.total ?? 0)} requests in ${Math.round((Date.now() - t0) / 1000)} s, ` +
        `${result.non2xx + result.errors + result.timeouts} failed; ledger rows ${ledger.rows}\n` +
        `${table(['requests', 's', 'RSS MB'], rows)}\n` +
        `idle before ${idle.rssMb} MB; peak ${Math.max(...samples.map((x) => x.rssMb))} MB; max in the first quarter ${firstQuarterMax} MB, ` +
        `in the second half ${Math.max(...secondHalf)} MB; idle after ${after.rssMb} MB (high-water ${after.hwmMb} MB)\n`,
    );
    const file = writeResults('soak-', {
      kind: 'soak',
      amount,
      connections,
      requests: (result.requests.total ?? 0),
      failed: result.non2xx + result.errors + result.timeouts,
      rps: round((result.requests.total ?? 0) / result.duration, 0),
      idle_before_mb: idle.rssMb,
      idle_after_mb: after.rssMb,
      high_water_mb: after.hwmMb,
      ledger,
      samples,
    });
    process.stdout.write(`JSON: ${file}\n`);
  } finally {
    for (const c of children.reverse()) await c.stop().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  }
}
