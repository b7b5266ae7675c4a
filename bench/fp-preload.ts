/**
 * Footprint probe (bench/footprint.ts): loaded with `--import` into the daemon
 * and, inherited through execArgv, into each of its worker threads. Every
 * thread answers a BroadcastChannel question with its isolate's heap by
 * space; the main thread also counts GC pauses and answers the parent's
 * 'fp' IPC message with all threads' figures. Measurement only.
 */
import { BroadcastChannel, isMainThread, threadId, workerData, Worker } from 'node:worker_threads';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;

function self() {
  const h = v8.getHeapStatistics();
  const spaces: Record<string, number> = {};
  for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name.replace('_space', '')] = mb(s.physical_space_size);
  return { threadId, kind: isMainThread ? 'main' : workerData && typeof workerData === 'object' && 'file' in workerData ? 'maintenance' : 'tokenizer?', physical: mb(h.total_physical_size), used: mb(h.used_heap_size), limit: mb(h.heap_size_limit), external: mb(h.external_memory), malloced: mb(h.malloced_memory), spaces };
}

const jobs: Record<string, number> = {};
const ch = new BroadcastChannel('sbs-fp');
ch.unref();
if (!isMainThread) {
  ch.onmessage = (e) => {
    if ((e as MessageEvent).data === 'ask') ch.postMessage(self());
  };
} else if (process.send) {
  const orig = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (this: Worker, m: unknown, t?: never) {
    const k = m && typeof m === 'object' && 'kind' in m ? String((m as { kind: unknown }).kind) : String(m);
    jobs[k] = (jobs[k] ?? 0) + 1;
    return orig.call(this, m, t);
  };
  const gc = { major: 0, minor: 0, majorMs: 0, minorMs: 0, maxMs: 0 };
  new PerformanceObserver((list) => {
    for (const en of list.getEntries()) {
      const kind = (en as unknown as { detail?: { kind?: number } }).detail?.kind;
      const major = kind === constants.NODE_PERFORMANCE_GC_MAJOR;
      if (major) { gc.major++; gc.majorMs += en.duration; } else { gc.minor++; gc.minorMs += en.duration; }
      gc.maxMs = Math.max(gc.maxMs, en.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('message', (m) => {
    if (m === 'gc-major' || m === 'gc-minor') {
      v8.setFlagsFromString('--expose-gc');
      const gcf = vm.runInNewContext('gc') as (o?: unknown) => void;
      if (m === 'gc-major') gcf(); else gcf({ type: 'minor' });
      process.send!({ fp: { done: m } });
      return;
    }
    if (m !== 'fp') return;
    const workers: unknown[] = [];
    ch.onmessage = (e) => workers.push((e as MessageEvent).data);
    ch.postMessage('ask');
    setTimeout(() => {
      const mu = process.memoryUsage();
      process.send!({ fp: { jobs: { ...jobs }, main: self(), workers, gc: { ...gc, majorMs: Math.round(gc.majorMs), minorMs: Math.round(gc.minorMs), maxMs: Math.round(gc.maxMs) }, mu: { rss: mb(mu.rss), heapTotal: mb(mu.heapTotal), heapUsed: mb(mu.heapUsed), external: mb(mu.external), arrayBuffers: mb(mu.arrayBuffers) } } });
      Object.assign(gc, { major: 0, minor: 0, majorMs: 0, minorMs: 0, maxMs: 0 });
    }, 300);
  });
}
