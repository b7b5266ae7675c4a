/**
 * Reading what a response cost: usage from a JSON body, or from a stream of
 * server-sent events, with the delivered text kept so it can be counted when
 * the usage never arrives (upstream died, client left, usage omitted).
 */
import { countTokens } from '../pricing/tokenizer.js';
import type { Meter } from './routes.js';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** Cost the upstream reported itself, in micro-dollars. */
  reportedCostMicros: number | null;
  model: string | null;
}

function int(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : null;
}

/** A USD amount reported by the upstream (`usage.cost` or the x-skillboss-cost header), in micro-dollars. */
export function reportedCost(v: unknown): number | null {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? Math.ceil(n * 1_000_000) : null;
}

/** Usage fields of one response object (chat, completions, embeddings, responses). */
export function usageOf(obj: Record<string, unknown>): Usage | null {
  const u = obj.usage;
  if (!u || typeof u !== 'object') return null;
  const usage = u as Record<string, unknown>;
  const prompt = int(usage.prompt_tokens) ?? int(usage.input_tokens);
  const completion = int(usage.completion_tokens) ?? int(usage.output_tokens) ?? 0;
  if (prompt === null) return null;
  return {
    promptTokens: prompt,
    completionTokens: completion,
    reportedCostMicros: reportedCost(usage.cost),
    model: typeof obj.model === 'string' ? obj.model : null,
  };
}

/** Text a non-streamed response delivered, for counting when it reports no usage. */
export function deliveredText(meter: Meter, obj: Record<string, unknown>): string {
  if (meter === 'responses') return typeof obj.output_text === 'string' ? obj.output_text : '';
  let s = '';
  if (Array.isArray(obj.choices)) {
    for (const c of obj.choices as Array<Record<string, unknown>>) {
      const msg = c?.message as Record<string, unknown> | undefined;
      if (typeof msg?.content === 'string') s += msg.content;
      if (msg?.tool_calls) s += JSON.stringify(msg.tool_calls);
      if (typeof c?.text === 'string') s += c.text;
    }
  }
  return s;
}

/**
 * Splits an upstream SSE byte stream into whole events, decides which reach
 * the client (the usage-only chunk is hidden from a client that did not ask
 * for it), and keeps what is needed for metering. Events are forwarded as soon
 * as they are complete; nothing waits for the end of the stream.
 */
export class SseTap {
  private buffer = '';
  private readonly decoder = new TextDecoder();
  usage: Usage | null = null;
  model: string | null = null;
  /** Raw `data:` payloads delivered to the client, parsed only if usage never arrives. */
  private delivered: string[] = [];
  private deliveredBytes = 0;
  private overflowBytes = 0;
  eventsDelivered = 0;
  sawDone = false;

  constructor(
    private readonly hideUsageChunk: boolean,
    private readonly maxKeptBytes = 8 * 1024 * 1024,
  ) {}

  /** Feeds upstream bytes; returns the text to write to the client now ('' when no event is complete yet). */
  push(chunk: Buffer): string {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    let out = '';
    let start = 0;
    for (;;) {
      const [end, sepLength] = this.findEventEnd(start);
      if (end === -1) break;
      const event = this.buffer.slice(start, end);
      start = end + sepLength;
      if (this.keep(event)) out += event + '\n\n';
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  /** Whatever incomplete event is left when the stream ends. */
  flush(): string {
    const rest = this.buffer + this.decoder.decode();
    this.buffer = '';
    if (rest.trim() === '') return '';
    return this.keep(rest) ? rest : '';
  }

  /** Where the next event ends, and the length of the blank line that ends it. */
  private findEventEnd(from: number): [number, number] {
    const lf = this.buffer.indexOf('\n\n', from);
    const crlf = this.buffer.indexOf('\r\n\r\n', from);
    if (crlf !== -1 && (lf === -1 || crlf < lf)) return [crlf, 4];
    return [lf, 2];
  }

  private keep(event: string): boolean {
    const data = dataOf(event);
    if (data === null) return true;
    if (data === '[DONE]') {
      this.sawDone = true;
      return true;
    }
    if (data.includes('"usage"') && !/"usage"\s*:\s*null/.test(data)) {
      try {
        const obj = JSON.parse(data) as Record<string, unknown>;
        const found = usageOf(obj) ?? usageOf((obj.response as Record<string, unknown>) ?? {});
        if (found) {
          this.usage = found;
          if (this.hideUsageChunk && Array.isArray(obj.choices) && obj.choices.length === 0) return false;
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
      this.delivered.push(data);
      this.deliveredBytes += data.length;
    } else {
      this.overflowBytes += data.length;
    }
    return true;
  }

  /** Completion tokens actually delivered, counted with the tokenizer (bytes past the cap count one token each, never less). */
  countDelivered(): number {
    let text = '';
    for (const d of this.delivered) {
      try {
        text += chunkText(JSON.parse(d) as Record<string, unknown>);
      } catch {
        /* not JSON */
      }
    }
    return countTokens(text) + this.overflowBytes;
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
