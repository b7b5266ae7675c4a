/**
 * How fast the Tokens page's list answers with many tokens (issue 26): a
 * perf script, not a test. For 1,000 and 10,000 tokens (roots with nine
 * children each, seeded with plain SQL, ten ledger rows per token), the real
 * daemon answers GET /admin/api/tokens pages: the first page in tree order,
 * a search, a filter, a sort by spend; and the whole list, as before.
 * Prints the median and the slowest of 15 answers for each. The goal: under
 * 0.5 s.
 *
 *   npm run build && tsc -b bench && node dist/bench/tokens-page.js [1000 10000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAdminSecret } from '../proxy/admin/secret.js';
import { memoryKeyStore } from '../proxy/keychain/store.js';
import { silentLogger } from '../proxy/core/log.js';
import { startDaemon } from '../proxy/server/daemon.js';
import { startSimulator } from '../proxy/simulator/index.js';
import { seedDatabase } from './seed.js';

const RUNS = 15;
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);

async function measure(url: string, secret: string): Promise<{ median: number; max: number; bytes: number; total: number }> {
  const times: number[] = [];
  let bytes = 0;
  let total = 0;
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const res = await fetch(url, { headers: { authorization: `Bearer ${secret}` } });
    const text = await res.text();
    times.push(performance.now() - t);
    if (!res.ok) throw new Error(`${url}: ${res.status} ${text}`);
    bytes = text.length;
    total = (JSON.parse(text) as { total: number }).total;
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(RUNS / 2)]!, max: times.at(-1)!, bytes, total };
}

async function main(): Promise<void> {
  const rows: string[] = ['tokens   query                                   median ms   max ms   KiB   matched'];
  for (const n of sizes.length ? sizes : [1000, 10_000]) {
    const dir = mkdtempSync(join(tmpdir(), 'sbs-tokens-page-'));
    const sim = await startSimulator({ apiKey: 'sk-perf-tokens-page', balanceUsd: 100 });
    try {
      seedDatabase(dir, { tokens: n, usageRows: n * 10 }, () => {});
      const daemon = await startDaemon({ dataDir: dir, port: 0, upstreamUrl: sim.url, keyStore: memoryKeyStore('sk-perf-tokens-page'), log: silentLogger(), syncIntervalMs: 0 });
      try {
        const secret = readAdminSecret(dir);
        const base = `${daemon.url}/admin/api/tokens`;
        // One request first: the admin app loads on its first request.
        await fetch(base, { headers: { authorization: `Bearer ${secret}` } });
        const queries: Array<[string, string]> = [
          ['first page (tree order)', '?limit=50'],
          ['search by name', `?q=seed-agent-${n - 3}&limit=50`],
          ['search by id', `?q=tok_s${String(n - 3).padStart(15, '0')}&limit=50`],
          ['filter: has children', '?parents=1&limit=50'],
          ['filter: over 80% of budget', '?over80=1&limit=50'],
          ['sort by spend', '?sort=spend&limit=50'],
          ['sort by last use, page 10', '?sort=last_used&offset=450&limit=50'],
          ['the whole list (no query)', ''],
        ];
        for (const [name, q] of queries) {
          const m = await measure(base + q, secret);
          rows.push(`${String(n).padStart(6)}   ${name.padEnd(38)} ${m.median.toFixed(0).padStart(9)} ${m.max.toFixed(0).padStart(8)} ${(m.bytes / 1024).toFixed(0).padStart(5)}   ${m.total}`);
        }
      } finally {
        await daemon.close();
      }
    } finally {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  process.stdout.write(`${rows.join('\n')}\n`);
}

void main();
