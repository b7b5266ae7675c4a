/**
 * Server-sent-events writer: one `res.write` per chunk, `chunkDelayMs` between
 * chunks, and the dropAfterChunks / streamForever faults. Reports how many
 * completion tokens were delivered when the stream ends for any reason
 * (completed, dropped, client gone, simulator closed) so the caller can charge.
 */
import type { Call } from './context.js';

export interface SseChunk {
  /** The full SSE frame, e.g. `data: {...}\n\n`. */
  readonly data: string;
  /** Completion tokens this chunk delivers. */
  readonly tokens: number;
  /** The final frame: the response ends after it. */
  readonly last?: boolean;
}

export const SSE_DONE: SseChunk = { data: 'data: [DONE]\n\n', tokens: 0, last: true };

export function sseData(value: unknown, tokens = 0): SseChunk {
  return { data: `data: ${JSON.stringify(value)}\n\n`, tokens };
}

export function sseEvent(type: string, value: unknown, tokens = 0, last = false): SseChunk {
  return { data: `event: ${type}\ndata: ${JSON.stringify(value)}\n\n`, tokens, last };
}

export interface StreamOptions {
  /** Produces the chunks; the stream ends after a chunk with `last`. */
  readonly chunks: Iterator<SseChunk, unknown>;
  /** Called exactly once with the completion tokens delivered. */
  readonly onEnd: (deliveredTokens: number, completed: boolean) => void;
  /** Default delay between chunks when chunkDelayMs is 0 (streamForever uses 10 ms). */
  readonly minDelayMs?: number;
  readonly headers?: Record<string, string> | undefined;
}

export function startStream(call: Call, opts: StreamOptions): void {
  const { res, ctx } = call;
  if (ctx.closed || res.destroyed || call.req.socket.destroyed) {
    opts.onEnd(0, false);
    return;
  }
  const headers: Record<string, string> = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };
  if (opts.headers) Object.assign(headers, opts.headers);
  res.writeHead(200, headers);

  let written = 0;
  let delivered = 0;
  let ended = false;
  let timer: NodeJS.Timeout | undefined;

  const end = (completed: boolean): void => {
    if (ended) return;
    ended = true;
    if (timer) clearTimeout(timer);
    timer = undefined;
    ctx.active.delete(abort);
    opts.onEnd(delivered, completed);
  };
  const abort = (): void => {
    end(false);
    res.destroy();
  };
  ctx.active.add(abort);
  res.on('close', () => end(false));

  const step = (): void => {
    timer = undefined;
    for (;;) {
      if (ended) return;
      const f = ctx.faults;
      if (f.streamError && written >= f.streamError.after) {
        end(false);
        res.end(`data: ${f.streamError.data}\n\n`);
        return;
      }
      if (f.dropAfterChunks !== undefined && written >= f.dropAfterChunks) {
        end(false);
        res.flushHeaders();
        setImmediate(() => res.destroy());
        return;
      }
      const r = opts.chunks.next();
      if (r.done) {
        end(true);
        res.end();
        return;
      }
      const c = r.value;
      written++;
      delivered += c.tokens;
      if (c.last) {
        res.write(c.data);
        end(true);
        res.end();
        return;
      }
      if (f.dropAfterChunks !== undefined && written >= f.dropAfterChunks) {
        end(false);
        res.write(c.data, () => res.destroy());
        return;
      }
      res.write(c.data);
      const delay = f.chunkDelayMs || opts.minDelayMs || 0;
      if (delay > 0) {
        timer = setTimeout(step, delay);
        return;
      }
    }
  };
  step();
}
