/**
 * The metering tap on a streamed answer (stages 9, relay, and 10, meter,
 * meet here): it sees every event on its way to the client and keeps what the
 * meter needs.
 */
import { toOpenAIBody, type SidecarError } from '../core/errors.js';
import { dataOf, SseFramer } from '../core/sse.js';
import { countTokens } from '../pricing/tokenizer.js';
import { stripInjectedData } from '../upstream/hygiene.js';
import { streamUsageOf, type Usage } from './usage.js';

/**
 * Takes an upstream SSE byte stream as whole events (core/sse.ts frames
 * them), decides which reach the client (the usage-only chunk is hidden from
 * a client that did not ask for it), and keeps what is needed for metering.
 * Events are forwarded as soon as they are complete; nothing waits for the
 * end of the stream. They are re-emitted with LF line ends.
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
  private readonly framer = new SseFramer();
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
    /** Takes SkillBoss's `_` fields out of each chunk (upstream/hygiene.ts) and hears what was taken; absent: passed through. */
    private readonly onInjected?: (removed: Record<string, unknown>) => void,
    /** Scrubs the real key (in every escaped form) from an error event the upstream wrote mid-stream. */
    private readonly redact: (text: string) => string = (t) => t,
  ) {}

  /** Feeds upstream bytes; returns the text to write to the client now ('' when no event is complete yet). */
  push(chunk: Buffer): string {
    return this.pass(this.framer.push(chunk));
  }

  /** Whatever is left when the stream ends: complete events, then an unterminated last one. */
  flush(): string {
    return this.pass(this.framer.end());
  }

  private pass(events: string[]): string {
    let out = '';
    for (const event of events) {
      const kept = event !== '' ? this.keep(event) : null;
      if (kept !== null) out += kept + '\n\n';
    }
    return out;
  }

  /** The event as the client gets it, or null when it is not passed on. */
  private keep(event: string): string | null {
    const found = dataOf(event);
    if (found === null) return event;
    let data: string = found;
    if (data === '[DONE]') {
      // Held back: the caller writes DONE_EVENT once the request is settled.
      this.sawDone = true;
      return null;
    }
    if (this.onInjected) {
      // A chunk of SkillBoss's own fields only is dropped; one with a delta beside them loses just those fields.
      const s = stripInjectedData(data);
      if (s.removed) {
        this.onInjected(s.removed);
        if (s.data === null) return null;
        data = s.data;
        event = withData(event, data);
      }
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

/** The event with its data lines replaced by one carrying `data` (its other fields kept, in order). */
function withData(event: string, data: string): string {
  const other = event.split('\n').filter((l) => !l.startsWith('data:'));
  return [...other, `data: ${data}`].join('\n');
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
