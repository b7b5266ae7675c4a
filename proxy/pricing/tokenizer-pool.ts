/**
 * A small pool of tokenizer threads. Exact counting of a 100k-token prompt
 * takes tens of milliseconds of CPU; on the event loop it would stall every
 * other agent for that long, so it runs here and the loop only waits for the
 * answer. Threads start on the first job (the encoder, ~40 MB, is loaded in
 * them, never in the daemon's main thread) and end after a while without
 * work, so an idle daemon carries none of it.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { PromptShape } from './prompt.js';
import type { TokenizerAnswer, TokenizerJob } from './tokenizer-worker.js';

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve(n: number): void; reject(e: Error): void }>;
  idleTimer?: NodeJS.Timeout;
}

/** The compiled worker; when this module runs from source (vitest), the build's copy of it. */
function workerUrl(): URL {
  const here = new URL(import.meta.url);
  return here.pathname.endsWith('.ts') ? new URL('../../dist/proxy/pricing/tokenizer-worker.js', here) : new URL('./tokenizer-worker.js', here);
}

export interface TokenizerPoolOptions {
  /** Threads at most; default: one per core beyond the first, at most two (each holds its own encoder). */
  size?: number;
  /** A thread with nothing to do for this long ends (ms). */
  idleMs?: number;
}

export class TokenizerPool {
  private readonly slots: Slot[] = [];
  private readonly size: number;
  private readonly idleMs: number;
  private nextId = 1;

  constructor(opts: TokenizerPoolOptions = {}) {
    this.size = Math.max(1, opts.size ?? Math.min(2, availableParallelism() - 1));
    this.idleMs = opts.idleMs ?? 30_000;
  }

  /**
   * Exact prompt tokens of a JSON request body (counted as `estimate` counts
   * them). The bytes are copied once (a memcpy) and handed over; the parse
   * and the count happen in the thread.
   */
  countPrompt(shape: PromptShape, raw: Buffer): Promise<number> {
    const body = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer;
    return this.run({ id: 0, kind: 'prompt', shape, body }, [body]);
  }

  /** Tokens in a text (delivered completions when the upstream reported no usage). */
  countText(text: string): Promise<number> {
    if (text.length === 0) return Promise.resolve(0);
    return this.run({ id: 0, kind: 'text', text });
  }

  /** Ends every thread; pending counts are rejected. */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => this.end(s, new Error('the tokenizer pool was closed'))));
  }

  /** Threads running now (for tests and the benchmark). */
  get threads(): number {
    return this.slots.length;
  }

  private run(job: TokenizerJob, transfer: ArrayBuffer[] = []): Promise<number> {
    const slot = this.pick();
    const id = this.nextId++;
    job.id = id;
    return new Promise<number>((resolve, reject) => {
      if (slot.pending.size === 0) {
        clearTimeout(slot.idleTimer);
        slot.worker.ref();
      }
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage(job, transfer);
    });
  }

  /** The least busy thread, starting another while the pool is below its size and all are busy. */
  private pick(): Slot {
    let best: Slot | undefined;
    for (const s of this.slots) if (!best || s.pending.size < best.pending.size) best = s;
    if (best && (best.pending.size === 0 || this.slots.length >= this.size)) return best;
    return this.spawn();
  }

  private spawn(): Slot {
    const worker = new Worker(workerUrl());
    const slot: Slot = { worker, pending: new Map() };
    worker.on('message', (m: TokenizerAnswer) => {
      const p = slot.pending.get(m.id);
      if (!p) return;
      slot.pending.delete(m.id);
      // A body that is not JSON after all (a scanned body is not parsed on the loop) is the client's error.
      if ('error' in m) p.reject(Object.assign(new Error(`tokenizer: ${m.error}`), m.invalidJson ? { code: 'invalid_json' } : {}));
      else p.resolve(m.tokens);
      if (slot.pending.size === 0) this.idle(slot);
    });
    const fail = (err: Error) => {
      const i = this.slots.indexOf(slot);
      if (i !== -1) this.slots.splice(i, 1);
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
      clearTimeout(slot.idleTimer);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the tokenizer thread exited (${code})`)));
    this.slots.push(slot);
    return slot;
  }

  /** Nothing pending: the thread may not keep the process alive, and ends after `idleMs`. */
  private idle(slot: Slot): void {
    slot.worker.unref();
    slot.idleTimer = setTimeout(() => {
      if (slot.pending.size > 0) return;
      const i = this.slots.indexOf(slot);
      if (i !== -1) this.slots.splice(i, 1);
      void slot.worker.terminate();
    }, this.idleMs);
    slot.idleTimer.unref();
  }

  private async end(slot: Slot, err: Error): Promise<void> {
    clearTimeout(slot.idleTimer);
    for (const p of slot.pending.values()) p.reject(err);
    slot.pending.clear();
    await slot.worker.terminate();
  }
}
