/**
 * Streaming: the upstream's chat completion chunks, as they arrive, become the
 * Anthropic event sequence — message_start, ping, content_block_start /
 * content_block_delta (text_delta, input_json_delta) / content_block_stop,
 * message_delta (stop_reason, usage), message_stop. Each upstream event is
 * parsed once and answered at once; nothing waits for the end of the stream.
 *
 * `AnthropicSseTap` has the shape of the pipeline's `SseTap` (push, flush,
 * usage, sawDone, countDelivered, trailer, failure) so the relay meters it the
 * same way; like `[DONE]` there, the closing events are held back
 * (`trailer()`) until the request is settled, so a client that saw
 * message_stop can rely on the ledger. It reads usage with the pipeline's own
 * reader, handed in, so this module depends on nothing above it.
 */
import { dataOf, SseFramer } from '../core/sse.js';
import { countTokens } from '../pricing/tokenizer.js';
import { anthropicErrorType } from './errors.js';
import { messageId, stopReason, usageOf, type AnthropicUsage } from './response.js';

type Json = Record<string, unknown>;

export function sseEvent(type: string, data: Json): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** An in-stream error, as Anthropic sends it once the 200 is on the wire. */
export function errorEvent(status: number, message: string): string {
  return sseEvent('error', { type: 'error', error: { type: anthropicErrorType(status), message } });
}

/** Chat chunks (parsed) → Anthropic events (text). One instance per response. */
export class MessagesStream {
  private started = false;
  /** Index of the open content block, or -1. */
  private open = -1;
  private openKind: 'text' | 'tool' | null = null;
  private blocks = 0;
  /** Chat tool-call index → Anthropic block index. */
  private readonly toolBlocks = new Map<number, number>();
  private finish: unknown = null;
  private sawTool = false;
  /** The upstream's usage object, when it sent one. */
  rawUsage: unknown = null;
  private readonly id: string;

  constructor(
    private readonly model: string,
    /** Prompt tokens as the sidecar counted them, shown in message_start until the upstream's figure arrives in message_delta. */
    private readonly inputTokensHint: number,
    upstreamId?: string,
  ) {
    this.id = messageId(upstreamId);
  }

  /** message_start and a ping, once, before anything else. */
  start(): string {
    if (this.started) return '';
    this.started = true;
    const message = { id: this.id, type: 'message', role: 'assistant', model: this.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: this.inputTokensHint, output_tokens: 0 } };
    return sseEvent('message_start', { type: 'message_start', message }) + sseEvent('ping', { type: 'ping' });
  }

  /** The events one chat chunk stands for ('' when it carries nothing for the client). */
  chunk(obj: Json): string {
    let out = this.start();
    if (obj.usage && typeof obj.usage === 'object') this.rawUsage = obj.usage;
    const choice = Array.isArray(obj.choices) ? (obj.choices[0] as Json | undefined) : undefined;
    if (!choice) return out;
    const delta = (choice.delta ?? {}) as Json;
    if (typeof delta.content === 'string' && delta.content !== '') {
      if (this.openKind !== 'text') out += this.openBlock('text', { type: 'text', text: '' });
      out += sseEvent('content_block_delta', { type: 'content_block_delta', index: this.open, delta: { type: 'text_delta', text: delta.content } });
    }
    if (Array.isArray(delta.tool_calls)) for (const tc of delta.tool_calls as Json[]) out += this.toolDelta(tc);
    if (choice.finish_reason != null) this.finish = choice.finish_reason;
    return out;
  }

  private toolDelta(tc: Json): string {
    let out = '';
    const fn = (tc.function ?? {}) as Json;
    const index = typeof tc.index === 'number' ? tc.index : 0;
    let block = this.toolBlocks.get(index);
    if (block === undefined) {
      this.sawTool = true;
      const id = typeof tc.id === 'string' ? tc.id : `toolu_${this.id.slice(4)}_${index}`;
      out += this.openBlock('tool', { type: 'tool_use', id, name: typeof fn.name === 'string' ? fn.name : '', input: {} });
      block = this.open;
      this.toolBlocks.set(index, block);
    }
    // A late fragment of an earlier (interleaved) call still goes to its own block by index, as clients accumulate by index.
    if (typeof fn.arguments === 'string' && fn.arguments !== '') {
      out += sseEvent('content_block_delta', { type: 'content_block_delta', index: block, delta: { type: 'input_json_delta', partial_json: fn.arguments } });
    }
    return out;
  }

  private openBlock(kind: 'text' | 'tool', contentBlock: Json): string {
    const out = this.closeBlock();
    this.open = this.blocks++;
    this.openKind = kind;
    return out + sseEvent('content_block_start', { type: 'content_block_start', index: this.open, content_block: contentBlock });
  }

  private closeBlock(): string {
    if (this.open === -1) return '';
    const out = sseEvent('content_block_stop', { type: 'content_block_stop', index: this.open });
    this.open = -1;
    this.openKind = null;
    return out;
  }

  /** The closing events: the open block's stop, message_delta with the stop reason and usage, message_stop. */
  end(countedOutputTokens: number | null): string {
    let out = this.start() + this.closeBlock();
    const usage: AnthropicUsage = this.rawUsage ? usageOf(this.rawUsage) : { input_tokens: this.inputTokensHint, output_tokens: countedOutputTokens ?? 0 };
    out += sseEvent('message_delta', { type: 'message_delta', delta: { stop_reason: stopReason(this.finish, this.sawTool), stop_sequence: null }, usage });
    return out + sseEvent('message_stop', { type: 'message_stop' });
  }
}

/** Meters an upstream chat stream while translating it; the relay writes what `push` returns as it comes. */
export class AnthropicSseTap<U> {
  private readonly framer = new SseFramer();
  readonly translator: MessagesStream;
  usage: U | null = null;
  sawDone = false;
  /** Text and tool arguments delivered, kept (to a cap) to count when the upstream sends no usage. */
  private kept: string[] = [];
  private deliveredBytes = 0;
  private overflowBytes = 0;
  private counted: number | null = null;
  /** An error the upstream sent inside the stream; the stream ends there. */
  upstreamError: string | null = null;
  /** An error event was written: nothing may follow it. */
  private failed = false;

  constructor(
    model: string,
    inputTokensHint: number,
    /** Reads the usage of one chat chunk (the pipeline's reader). */
    private readonly readUsage: (chunk: Json) => U | null,
    /** Scrubs the real key from upstream text this tap itself writes into an event (an error's message). */
    private readonly redact: (text: string) => string = (t) => t,
    private readonly maxKeptBytes = 8 * 1024 * 1024,
  ) {
    this.translator = new MessagesStream(model, inputTokensHint);
  }

  push(chunk: Buffer): string {
    return this.handle(this.framer.push(chunk));
  }

  flush(): string {
    return this.handle(this.framer.end());
  }

  private handle(events: string[]): string {
    let out = '';
    for (const event of events) {
      if (this.upstreamError !== null) break;
      const data = dataOf(event);
      if (data === null) continue;
      if (data === '[DONE]') {
        this.sawDone = true;
        continue;
      }
      let obj: Json;
      try {
        obj = JSON.parse(data) as Json;
      } catch {
        continue; // Not a chat chunk: nothing an Anthropic client could read.
      }
      if (obj.error && typeof obj.error === 'object') {
        const m = (obj.error as Json).message;
        this.upstreamError = typeof m === 'string' ? this.redact(m).slice(0, 500) : 'no message';
        out += this.failure(`SkillBoss reported an error in the middle of the stream: ${this.upstreamError}`);
        break;
      }
      const u = this.readUsage(obj);
      if (u) this.usage = u;
      this.keep(obj);
      out += this.translator.chunk(obj);
    }
    return out;
  }

  private keep(obj: Json): void {
    const choice = Array.isArray(obj.choices) ? (obj.choices[0] as Json | undefined) : undefined;
    const delta = choice?.delta as Json | undefined;
    if (!delta) return;
    let s = typeof delta.content === 'string' ? delta.content : '';
    if (Array.isArray(delta.tool_calls)) {
      for (const tc of delta.tool_calls as Json[]) {
        const fn = (tc?.function ?? {}) as Json;
        if (typeof fn.name === 'string') s += fn.name;
        if (typeof fn.arguments === 'string') s += fn.arguments;
      }
    }
    if (s === '') return;
    if (this.deliveredBytes < this.maxKeptBytes) {
      this.kept.push(s);
      this.deliveredBytes += s.length;
    } else this.overflowBytes += s.length;
  }

  /** Completion tokens delivered, counted with the tokenizer (needs `tokenizerReady()`). */
  countDelivered(): number {
    this.counted = countTokens(this.kept.join('')) + this.overflowBytes;
    return this.counted;
  }

  /** What `countDelivered` counts, to count it elsewhere (the tokenizer pool). */
  delivered(): { text: string; uncountedTokens: number } {
    return { text: this.kept.join(''), uncountedTokens: this.overflowBytes };
  }

  /** The count made elsewhere, for the closing `message_delta`'s output tokens. */
  noteCounted(tokens: number): void {
    this.counted = tokens;
  }

  /** True once the response is complete: the upstream said [DONE] or sent its usage, and no error. */
  get finished(): boolean {
    return this.upstreamError === null && (this.sawDone || this.usage !== null);
  }

  /**
   * The closing events, written after the request is settled; for a stream
   * the upstream left unfinished, an error event instead, so the client does
   * not take a cut-off answer for a whole one.
   */
  trailer(): string | null {
    if (this.failed) return null;
    if (this.finished) return this.translator.end(this.counted);
    return this.failure('The upstream ended the stream before finishing it; what was delivered is charged.');
  }

  /** What the client sees when the stream fails after the 200 went out (an Anthropic `error` event). */
  failure(err: { status: number; message: string } | string): string {
    if (this.failed) return '';
    this.failed = true;
    return this.translator.start() + (typeof err === 'string' ? errorEvent(502, err) : errorEvent(err.status, err.message));
  }
}
