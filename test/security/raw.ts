/**
 * Raw HTTP over node:net for the attack suite. An HTTP client would
 * normalize most of these attacks away (fold a duplicate Host, refuse to
 * send a bare CR, fix up an absolute-form target), so the bytes go onto the
 * socket exactly as written here, and the reply is parsed just enough to
 * read its status, headers and body.
 */
import { connect, type Socket } from 'node:net';

export interface RawReply {
  /** 0 when the server closed the connection without answering. */
  status: number;
  headers: Record<string, string[]>;
  body: string;
  /** Everything received, as text. */
  raw: string;
  /** True when the server closed the connection. */
  closed: boolean;
  /** Milliseconds from the first byte sent to the reply (or the close). */
  ms: number;
}

export interface RawOptions {
  /** Give up (and report what arrived) after this long. Default 10 s. */
  timeoutMs?: number;
  /** Resolve when the status line and headers are in, without waiting for the body (streams). */
  headersOnly?: boolean;
  /** Resolve only when the server closes the connection (or at the timeout). */
  untilClose?: boolean;
}

/** Parses the first complete response in `buf`, or returns null when more bytes are needed. */
export function parseReply(buf: Buffer): Omit<RawReply, 'closed' | 'ms'> | null {
  const text = buf.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return null;
  const lines = text.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) return { status: 0, headers: {}, body: '', raw: text };
  const headers: Record<string, string[]> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const k = line.slice(0, i).trim().toLowerCase();
    (headers[k] ??= []).push(line.slice(i + 1).trim());
  }
  const rest = buf.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  const len = headers['content-length']?.[0];
  if (len !== undefined) {
    if (rest.length < Number(len)) return null;
    return { status: Number(m[1]), headers, body: rest.subarray(0, Number(len)).toString('utf8'), raw: text };
  }
  return { status: Number(m[1]), headers, body: rest.toString('utf8'), raw: text };
}

export function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

/**
 * Waits for the first reply on `socket` (or its close). Bytes are written by
 * the caller, possibly in pieces over time (slowloris).
 */
export function readReply(socket: Socket, opts: RawOptions = {}): Promise<RawReply> {
  const started = performance.now();
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      const parsed = parseReply(buf) ?? { status: 0, headers: {}, body: '', raw: buf.toString('latin1') };
      resolve({ ...parsed, closed, ms: performance.now() - started });
    };
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (opts.untilClose) return;
      if (opts.headersOnly ? buf.includes('\r\n\r\n') : parseReply(buf)?.headers['content-length'] !== undefined) finish(false);
    };
    socket.on('data', onData);
    socket.once('close', () => finish(true));
    socket.once('error', () => finish(true));
    const timer = setTimeout(() => finish(socket.destroyed), opts.timeoutMs ?? 10_000);
  });
}

/** Sends `bytes` on a fresh connection and returns the first reply; the socket is destroyed afterwards. */
export async function raw(port: number, bytes: string | Buffer, opts: RawOptions = {}): Promise<RawReply> {
  const socket = await openSocket(port);
  try {
    const reply = readReply(socket, opts);
    socket.write(bytes);
    return await reply;
  } finally {
    socket.destroy();
  }
}

/** The error code in a reply's OpenAI error body, or null. */
export function codeOf(reply: RawReply): string | null {
  try {
    return (JSON.parse(reply.body) as { error?: { code?: string } }).error?.code ?? null;
  } catch {
    return null;
  }
}

/** A request head with CRLF line ends; `lines` are header lines written verbatim. */
export function head(requestLine: string, lines: string[]): string {
  return `${requestLine}\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
}
