/**
 * The daemon's worker threads are sized by their resourceLimits, not by the daemon's own heap flags (issue 27
 * item 3): a process started with the `#!` flags gives a thread started after threadHeapDefaults() a small young
 * generation and V8's default first old-generation limit, where one started without it inherits 4 MB
 * semi-spaces and a 64 MB old space.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url);
const shebangFlags = readFileSync(new URL('bin/skillboss-sidecar.js', root), 'utf8').split('\n', 1)[0]!.split(' ').filter((w) => w.startsWith('--'));

/** A thread that makes 400 KiB of garbage at a time, then reports its young generation's size (MB) and its heap limit. */
function threadHeap(reset: boolean): { young: number; limit: number } {
  const threads = new URL('dist/proxy/core/threads.js', root).href;
  const script = `
    import { Worker } from 'node:worker_threads';
    const { threadHeapDefaults } = await import(${JSON.stringify(threads)});
    if (${reset}) threadHeapDefaults();
    const code = "const v8 = require('v8'); let keep = []; for (let i = 0; i < 300; i++) { keep.push(JSON.parse(JSON.stringify({ a: 'x'.repeat(409600), i }))); if (keep.length > 2) keep.shift(); }" +
      "const s = v8.getHeapSpaceStatistics().filter((x) => x.space_name === 'new_space')[0];" +
      "require('worker_threads').parentPort.postMessage({ young: s.space_size / 1048576, limit: v8.getHeapStatistics().heap_size_limit / 1048576 });";
    const w = new Worker(code, { eval: true, execArgv: [], resourceLimits: { maxYoungGenerationSizeMb: 3 } });
    w.once('message', (m) => { process.stdout.write(JSON.stringify(m)); void w.terminate(); });
  `;
  const out = execFileSync(process.execPath, [...shebangFlags, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  return JSON.parse(out) as { young: number; limit: number };
}

describe('worker thread heap sizing', () => {
  it('takes the daemon flags away from threads started after threadHeapDefaults()', () => {
    expect(shebangFlags).toContain('--max-semi-space-size=4');
    const inherited = threadHeap(false);
    const own = threadHeap(true);
    expect(inherited.young).toBeGreaterThan(2);
    expect(own.young).toBeLessThanOrEqual(2);
    expect(own.limit).toBeLessThan(inherited.limit);
  });
});
