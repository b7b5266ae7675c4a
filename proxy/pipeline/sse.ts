/**
 * The metering tap on a streamed answer (stages 9, relay, and 10, meter,
 * meet here): it sees every event on its way to the client and keeps what the
 * meter needs.
 */
import { countTokens } from '../pricing/tokenizer.js';
import { usageOf, type Usage } from './meter.js';

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

export class SseTap {
  private buffer = '';
  /** A CR at the very end of a chunk may be the first half of a CRLF: kept until the next chunk says. */
  private pendingCr = false;
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
    if (rest.trim() !== '' && this.keep(rest)) out += rest + '\n\n';
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
      if (event !== '' && this.keep(event)) out += event + '\n\n';
    }
    if (start > 0) this.buffer = this.buffer.slice(start);
    return out;
  }

  private keep(event: string): boolean {
    const data = dataOf(event);
    if (data === null) return true;
    if (data === '[DONE]') {
      // Held back: the caller writes DONE_EVENT once the request is settled.
      this.sawDone = true;
      return false;
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
