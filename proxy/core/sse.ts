/**
 * Server-sent events, framed: the one splitter of an SSE byte stream into
 * whole events, for the pass-through tap (pipeline/sse.ts) and the
 * translating one (anthropic/stream.ts) alike. Events may arrive split
 * anywhere across TCP chunks (even inside a CRLF or a multi-byte character)
 * and lines may end in LF, CRLF or CR, as the SSE spec allows; events come
 * out with LF line ends and without their closing blank line.
 */
export class SseFramer {
  private buffer = '';
  /** A CR at the very end of a chunk may be the first half of a CRLF: kept until the next chunk says. */
  private pendingCr = false;
  private readonly decoder = new TextDecoder();

  /** Feeds upstream bytes; returns the events they complete (none while an event is still open). */
  push(chunk: Buffer): string[] {
    this.append(this.decoder.decode(chunk, { stream: true }));
    return this.drain();
  }

  /** The stream ended: the events still complete, then an unterminated last one unless it is blank. */
  end(): string[] {
    this.append(this.decoder.decode());
    if (this.pendingCr) this.buffer += '\n';
    this.pendingCr = false;
    const out = this.drain();
    const rest = this.buffer.replace(/\n+$/, '');
    this.buffer = '';
    if (rest.trim() !== '') out.push(rest);
    return out;
  }

  private append(text: string): void {
    if (text === '') return;
    let t = this.pendingCr ? '\r' + text : text;
    this.pendingCr = t.endsWith('\r');
    if (this.pendingCr) t = t.slice(0, -1);
    this.buffer += t.indexOf('\r') === -1 ? t : t.replace(/\r\n?/g, '\n');
  }

  private drain(): string[] {
    const out: string[] = [];
    let start = 0;
    for (;;) {
      const end = this.buffer.indexOf('\n\n', start);
      if (end === -1) break;
      const event = this.buffer.slice(start, end);
      start = end + 2;
      if (event !== '') out.push(event);
    }
    if (start > 0) this.buffer = this.buffer.slice(start);
    return out;
  }
}

/** The `data:` payload of one framed event (its data lines joined by LF), or null when it has none. */
export function dataOf(event: string): string | null {
  let data: string | null = null;
  for (const line of event.split('\n')) {
    if (line.startsWith('data:')) {
      const v = line.slice(line.charAt(5) === ' ' ? 6 : 5);
      data = data === null ? v : `${data}\n${v}`;
    }
  }
  return data;
}
