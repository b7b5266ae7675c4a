/**
 * A small pool of tokenizer threads. Exact counting of a 100k-token prompt
 * takes tens of milliseconds of CPU; on the event loop it would stall every
 * other agent for that long, so it runs here and the loop only waits for the
 * answer. Threads start on the first job (the encoder, ~40 MB, is loaded in
 * them, never in the daemon's main thread) and end after a while without
 * work, so an idle daemon carries none of it.
 *
 * A thread takes one job at a time, and waiting jobs are queued per owner (a
 * token id) and handed out in turn, one owner after another: an agent that
 * sends many large counts waits behind its own, never in front of another
 * agent's. A caller may also cap what one owner has queued or running
 * (count_tokens, issue 25): beyond it the job is refused with 429.
 *
 * The threads also translate a large request of another dialect (a 400 KiB
 * Claude Code turn on /v1/messages): parsed, validated, translated and
 * serialised there, handed back as bytes with its fields (issue 27 item 5).
 */
import { availableParallelism } from 'node:os';
import type { ResourceLimits, Worker } from 'node:worker_threads';
import { rateLimited, SidecarError } from '../core/errors.js';
import { threadHeapDefaults } from '../core/threads.js';
import type { BodyScan } from '../core/json.js';
import type { PromptShape } from './prompt.js';
import type { TokenizerAnswer, TokenizerJob, TranslatedDialect } from './tokenizer-worker.js';

export type { TranslatedDialect } from './tokenizer-worker.js';

interface Job {
  job: TokenizerJob;
  transfer: ArrayBuffer[];
  owner: string;
  resolve(result: unknown): void;
  reject(e: Error): void;
}

/** A large request translated in a thread: the upstream's body and what a scan would say of it. */
export interface Translated {
  raw: Buffer;
  scan: BodyScan;
}

interface Slot {
  worker: Worker;
  /** The job the thread is running (one at a time, so the queues decide who goes next). */
  pending: Map<number, Job>;
  idleTimer?: NodeJS.Timeout;
}

/** Who a job is for, so jobs are handed out in turn; and the most that owner may have queued or running. */
export interface JobOwner {
  owner: string;
  /** Beyond this many of the owner's jobs in the pool, another is refused with 429 (absent: queued, however many). */
  maxInFlight?: number;
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
  /** Each thread's V8 heap limits (default: THREAD_HEAP). */
  resourceLimits?: ResourceLimits;
}

/**
 * A thread's young generation, kept small (1 MB semi-spaces): the encoder
 * (~11 MB) is old, and a job's garbage (a parsed 400 KiB body) dies with the
 * job, so a small new space only means it is collected sooner. Applies
 * because `threadHeapDefaults()` takes the daemon's own heap flags away from
 * its threads (core/threads.ts).
 */
export const THREAD_HEAP: ResourceLimits = { maxYoungGenerationSizeMb: 3 };

export class TokenizerPool {
  private readonly slots: Slot[] = [];
  private readonly size: number;
  private readonly idleMs: number;
  private readonly resourceLimits: ResourceLimits;
  private nextId = 1;
  /** Waiting jobs per owner, and the owners with any, in the order they are served. */
  private readonly queues = new Map<string, Job[]>();
  private readonly turn: string[] = [];
  private readonly inFlight = new Map<string, number>();

  constructor(opts: TokenizerPoolOptions = {}) {
    this.size = Math.max(1, opts.size ?? Math.min(2, availableParallelism() - 1));
    this.idleMs = opts.idleMs ?? 30_000;
    this.resourceLimits = opts.resourceLimits ?? THREAD_HEAP;
  }

  /**
   * Exact prompt tokens of a JSON request body (counted as `estimate` counts
   * them). The bytes are copied once (a memcpy) and handed over; the parse
   * and the count happen in the thread.
   */
  countPrompt(shape: PromptShape, raw: Buffer, who?: JobOwner): Promise<number> {
    const refused = this.refuseOver(who);
    if (refused) return refused;
    const body = copyOf(raw);
    return this.run<number>({ id: 0, kind: 'prompt', shape, body }, [body], who?.owner);
  }

  /**
   * A large request body of `dialect` as the upstream's, translated in a
   * thread. `raw` is given up: when it owns its memory whole (a body read
   * into one buffer, body.ts) that memory is moved to the thread, not copied
   * (`raw` is then empty), else it is copied once; the translated bytes come
   * back without a copy. A refusal (invalid JSON, a field
   * the translation cannot carry) is the SidecarError the parse on the loop
   * would throw, with `model` set when the body named one.
   */
  translate(dialect: TranslatedDialect, raw: Buffer, maxDepth: number, who?: JobOwner): Promise<Translated> {
    const refused = this.refuseOver(who);
    if (refused) return refused;
    const body = handOver(raw);
    return this.run<Translated>({ id: 0, kind: 'translate', dialect, body, maxDepth }, [body], who?.owner);
  }

  /**
   * The prompt tokens of a large count request of `dialect` (Anthropic's
   * count_tokens), parsed, translated and counted in a thread; `raw` is
   * given up as in `translate`, and refusals are as there.
   */
  countTranslated(dialect: TranslatedDialect, raw: Buffer, maxDepth: number, who?: JobOwner): Promise<number> {
    const refused = this.refuseOver(who);
    if (refused) return refused;
    const body = handOver(raw);
    return this.run<number>({ id: 0, kind: 'count-translated', dialect, body, maxDepth }, [body], who?.owner);
  }

  /** Tokens in a text (delivered completions when the upstream reported no usage). */
  countText(text: string): Promise<number> {
    if (text.length === 0) return Promise.resolve(0);
    return this.run<number>({ id: 0, kind: 'text', text });
  }

  /** A 429 when the owner already has its most jobs in the pool (`maxInFlight`); null: it may queue another. */
  private refuseOver(who: JobOwner | undefined): Promise<never> | null {
    if (who?.maxInFlight === undefined || (this.inFlight.get(who.owner) ?? 0) < who.maxInFlight) return null;
    return Promise.reject(rateLimited('tokenizer_busy', `This token already has ${who.maxInFlight} large requests being read or counted by the sidecar; wait for them to finish before sending another.`, 1));
  }

  /** Ends every thread; pending counts are rejected. */
  async close(): Promise<void> {
    const err = new Error('the tokenizer pool was closed');
    for (const q of this.queues.values()) for (const j of q) j.reject(err);
    this.queues.clear();
    this.turn.length = 0;
    this.inFlight.clear();
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => this.end(s, err)));
  }

  /** Threads running now (for tests and the benchmark). */
  get threads(): number {
    return this.slots.length;
  }

  private run<T>(job: TokenizerJob, transfer: ArrayBuffer[] = [], owner = ''): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let q = this.queues.get(owner);
      if (!q) {
        this.queues.set(owner, (q = []));
        this.turn.push(owner);
      }
      q.push({ job, transfer, owner, resolve: resolve as (r: unknown) => void, reject });
      this.inFlight.set(owner, (this.inFlight.get(owner) ?? 0) + 1);
      this.dispatch();
    });
  }

  /** Hands waiting jobs to idle threads (starting threads up to the pool's size), one owner after another. */
  private dispatch(): void {
    while (this.turn.length > 0) {
      const slot = this.slots.find((s) => s.pending.size === 0) ?? (this.slots.length < this.size ? this.spawn() : undefined);
      if (!slot) return;
      const owner = this.turn.shift()!;
      const q = this.queues.get(owner)!;
      const j = q.shift()!;
      if (q.length > 0) this.turn.push(owner);
      else this.queues.delete(owner);
      const id = this.nextId++;
      j.job.id = id;
      clearTimeout(slot.idleTimer);
      slot.worker.ref();
      slot.pending.set(id, j);
      slot.worker.postMessage(j.job, j.transfer);
    }
  }

  private done(j: Job): void {
    const left = (this.inFlight.get(j.owner) ?? 1) - 1;
    if (left <= 0) this.inFlight.delete(j.owner);
    else this.inFlight.set(j.owner, left);
  }

  private spawn(): Slot {
    threadHeapDefaults();
    // node:worker_threads loads with the first worker, not at every start (issue 27 item 4).
    const worker = new (process.getBuiltinModule('node:worker_threads').Worker)(workerUrl(), { resourceLimits: this.resourceLimits });
    const slot: Slot = { worker, pending: new Map() };
    worker.on('message', (m: TokenizerAnswer) => {
      const p = slot.pending.get(m.id);
      if (!p) return;
      slot.pending.delete(m.id);
      this.done(p);
      // A body that is not JSON after all (a scanned body is not parsed on the loop) is the client's error.
      if ('error' in m) p.reject(Object.assign(new Error(`tokenizer: ${m.error}`), m.invalidJson ? { code: 'invalid_json' } : {}));
      else if ('refused' in m) {
        const r = m.refused;
        p.reject(Object.assign(new SidecarError(r.status, r.type, r.code, r.message, r.details ? { details: r.details } : {}), r.model !== undefined ? { model: r.model } : {}));
      } else if ('translated' in m) p.resolve({ raw: Buffer.from(m.translated.body), scan: m.translated.scan } satisfies Translated);
      else p.resolve(m.tokens);
      if (this.turn.length > 0) this.dispatch();
      if (slot.pending.size === 0) this.idle(slot);
    });
    const fail = (err: Error) => {
      const i = this.slots.indexOf(slot);
      if (i !== -1) this.slots.splice(i, 1);
      for (const p of slot.pending.values()) {
        this.done(p);
        p.reject(err);
      }
      slot.pending.clear();
      clearTimeout(slot.idleTimer);
      // What waits goes to the other threads, or to a new one.
      this.dispatch();
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
    for (const p of slot.pending.values()) {
      this.done(p);
      p.reject(err);
    }
    slot.pending.clear();
    await slot.worker.terminate();
  }
}

/** `raw`'s memory itself when it owns it whole (moved to the thread, `raw` left empty), else a copy. */
function handOver(raw: Buffer): ArrayBuffer {
  return raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength && raw.buffer instanceof ArrayBuffer ? raw.buffer : copyOf(raw);
}

/** The bytes of `raw` in an ArrayBuffer of their own, to transfer to a thread (a memcpy). */
function copyOf(raw: Buffer): ArrayBuffer {
  return raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer;
}
