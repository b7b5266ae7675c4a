/**
 * The metering tap on a streamed answer (stages 9, relay, and 10, meter,
 * meet here): it sees every event on its way to the client and keeps what the
 * meter needs.
 */
import { toOpenAIBody, type SidecarError } from '../core/errors.js';
import { countTokens } from '../pricing/tokenizer.js';
import { streamUsageOf, type Usage } from './usage.js';

/**
 * Splits an upstream SSE byte stream into whole events, decides which reach
 * the client (the usage-only chunk is hidden from a client that did not ask
 * for it), and keeps what is needed for metering. Events are forwarded as soon
 * as they are complete; nothing waits for the end of the stream.
 *
 * Events may arrive split anywhere across TCP chunks (even inside a CRLF or a
 * multi-byte character) and lines may end in LF, CRLF or CR, as the SSE spec
 * allows; they are re-emitted with LF endings.
 *
 * The final `data: [DONE]` is held back (`sawDone` is set, and the caller
 * writes `DONE_EVENT` after it has settled the request), so a client that saw
 * the end of a stream can rely on its request being in the ledger.
 */
export const DONE_EVENT = 'data: [DONE]\n\n';

/**
 * What the relay needs of a tap: this pass-through one, or one that
 * translates the stream into another dialect (proxy/anthropic/stream.ts).
 */
export interface StreamTap {
  push(chunk: Buffer): string;
  flush(): string;
  readonly usage: Usage | null;
  readonly sawDone: boolean;
  /** What was delivered, to count (in the tokenizer pool) when the upstream sent no usage. */
  delivered(): { text: string; uncountedTokens: number };
  /** That count, once made (a translated stream reports it in its closing event). */
  noteCounted(tokens: number): void;
  /** The end of the stream, written once the request is settled (null: nothing). */
  trailer(): string | null;
  /** The event that tells the client the stream failed after its 200 went out. */
  failure(err: SidecarError): string;
}

export class SseTap implements StreamTap {
  private buffer = '';
  /** A CR at the very end of a chunk may be the first half of a CRLF: kept until the next chunk says. */
  private pendingCr = false;
  private readonly decoder = new TextDecoder();
  usage: Usage | null = null;
  model: string | null = null;
  /** Raw `data:` payloads delivered to the client, parsed only if usage never arrives. */
  private kept: string[] = [];
  private deliveredBytes = 0;
  private overflowBytes = 0;
  eventsDelivered = 0;
  sawDone = false;

  constructor(
    private readonly hideUsageChunk: boolean,
    private readonly maxKeptBytes = 8 * 1024 * 1024,
    /** Reads the usage of one chunk (the route's meter's reader, meters.ts). */
    private readonly readUsage: (chunk: Record<string, unknown>) => Usage | null = streamUsageOf,
    /** Scrubs the real key (in every escaped form) from an error event the upstream wrote mid-stream. */
    private readonly redact: (text: string) => string = (t) => t,
  ) {}

  /** Feeds upstream bytes; returns the text to write to the client now ('' when no event is complete yet). */
  push(chunk: Buffer): string {
    this.append(this.decoder.decode(chunk, { stream: true }));
    return this.drain();
  }

  /** Whatever is left when the stream ends: complete events, then an unterminated last one. */
  flush(): string {
    this.append(this.decoder.decode());
    if (this.pendingCr) this.buffer += '\n';
    this.pendingCr = false;
    let out = this.drain();
    const rest = this.buffer.replace(/\n+$/, '');
    this.buffer = '';
    const last = rest.trim() === '' ? null : this.keep(rest);
    if (last !== null) out += last + '\n\n';
    return out;
  }

  private append(text: string): void {
    if (text === '') return;
    let t = this.pendingCr ? '\r' + text : text;
    this.pendingCr = t.endsWith('\r');
    if (this.pendingCr) t = t.slice(0, -1);
    this.buffer += t.indexOf('\r') === -1 ? t : t.replace(/\r\n?/g, '\n');
  }

  private drain(): string {
    let out = '';
    let start = 0;
    for (;;) {
      const end = this.buffer.indexOf('\n\n', start);
      if (end === -1) break;
      const event = this.buffer.slice(start, end);
      start = end + 2;
      const kept = event === '' ? null : this.keep(event);
      if (kept !== null) out += kept + '\n\n';
    }
    if (start > 0) this.buffer = this.buffer.slice(start);
    return out;
  }

  /** The event as the client gets it, or null when it is held back. */
  private keep(event: string): string | null {
    const data = dataOf(event);
    if (data === null) return event;
    if (data === '[DONE]') {
      // Held back: the caller writes DONE_EVENT once the request is settled.
      this.sawDone = true;
      return null;
    }
    // An upstream error mid-stream may echo the real key (issue 25 item 8); content chunks cannot hold it.
    if (/error/i.test(event)) event = this.redact(event);
    if (data.includes('"usage"') && !/"usage"\s*:\s*null/.test(data)) {
      try {
        const obj = JSON.parse(data) as Record<string, unknown>;
        const found = this.readUsage(obj);
        if (found) {
          this.usage = found;
          if (this.hideUsageChunk && Array.isArray(obj.choices) && obj.choices.length === 0) return null;
        }
      } catch {
        /* not JSON: forwarded as it is */
      }
    }
    if (this.model === null) {
      const m = /"model"\s*:\s*"([^"]{1,256})"/.exec(data);
      if (m) this.model = m[1]!;
    }
    this.eventsDelivered++;
    if (this.deliveredBytes < this.maxKeptBytes) {
      this.kept.push(data);
      this.deliveredBytes += data.length;
    } else {
      this.overflowBytes += data.length;
    }
    return event;
  }

  trailer(): string | null {
    return this.sawDone ? DONE_EVENT : null;
  }

  /** An error in the middle of a stream, as the event SDKs raise on: the same envelope as any error answer. */
  failure(err: SidecarError): string {
    return `data: ${JSON.stringify(toOpenAIBody(err))}\n\n`;
  }

  /** Completion tokens actually delivered, counted with the tokenizer (bytes past the cap count one token each, never less). */
  countDelivered(): number {
    const d = this.delivered();
    return countTokens(d.text) + d.uncountedTokens;
  }

  noteCounted(): void {
    // The OpenAI stream's closing `[DONE]` carries no count.
  }

  /** What `countDelivered` counts, to count it elsewhere (the tokenizer pool): the text, and the tokens of bytes past the cap. */
  delivered(): { text: string; uncountedTokens: number } {
    let text = '';
    for (const d of this.kept) {
      try {
        text += chunkText(JSON.parse(d) as Record<string, unknown>);
      } catch {
        /* not JSON */
      }
    }
    return { text, uncountedTokens: this.overflowBytes };
  }
}

function dataOf(event: string): string | null {
  let data: string | null = null;
  for (const line of event.split(/\r?\n/)) {
    if (line.startsWith('data:')) {
      const v = line.slice(line.charAt(5) === ' ' ? 6 : 5);
      data = data === null ? v : `${data}\n${v}`;
    }
  }
  return data;
}

/** Text carried by one streamed chunk: chat deltas, tool-call arguments, completion text, Responses deltas. */
function chunkText(obj: Record<string, unknown>): string {
  let s = '';
  if (Array.isArray(obj.choices)) {
    for (const c of obj.choices as Array<Record<string, unknown>>) {
      const delta = c?.delta as Record<string, unknown> | undefined;
      if (typeof delta?.content === 'string') s += delta.content;
      if (Array.isArray(delta?.tool_calls)) {
        for (const tc of delta.tool_calls as Array<Record<string, unknown>>) {
          const fn = tc?.function as Record<string, unknown> | undefined;
          if (typeof fn?.name === 'string') s += fn.name;
          if (typeof fn?.arguments === 'string') s += fn.arguments;
        }
      }
      if (typeof c?.text === 'string') s += c.text;
    }
  }
  if (obj.type === 'response.output_text.delta' && typeof obj.delta === 'string') s += obj.delta;
  return s;
}
