/**
 * Shared pieces of the attack suite: calling the daemon as an agent or as
 * the dashboard, a raw-capturing stand-in upstream (for what exactly went on
 * the wire), and the secret search used by the leak test.
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createLoginNonce, readAdminSecret } from '../../proxy/admin/index.js';
import { claimSession } from '../helpers/session.js';
import type { Stack } from '../helpers/stack.js';
import { ledgerOf, type UsageRow } from '../helpers/ledger.js';

export const MODEL = 'gpt-4o';

export function chatBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: MODEL, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 16, ...extra };
}

/** An agent call: `Authorization: Bearer <secret>` (when given) and a JSON body (when given). */
export function call(s: Stack, secret: string | null, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${s.daemon.url}${path}`, {
    method,
    headers: {
      ...(secret === null ? {} : { authorization: `Bearer ${secret}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
}

/** The admin secret (scripts' credential) of a stack's data dir. */
export function adminSecret(s: Stack): string {
  return readAdminSecret(s.dataDir);
}

/**
 * A dashboard session got the way a browser gets one, through a one-time login link: the cookie and the
 * key the page gets for the claim in the redirect's fragment, as the two headers the dashboard sends.
 */
export async function sessionAuth(s: Stack): Promise<{ cookie: string; 'x-sidecar-session': string }> {
  const { nonce } = createLoginNonce(s.daemon.db, s.clock());
  const res = await fetch(`${s.daemon.url}/admin/login?nonce=${nonce}`, { redirect: 'manual' });
  const set = res.headers.get('set-cookie');
  const claim = /#sbs-claim=([0-9A-Za-z]{43})$/.exec(res.headers.get('location') ?? '')?.[1];
  if (res.status !== 303 || !set || !claim) throw new Error(`login link failed: ${res.status}`);
  const cookie = set.split(';', 1)[0]!;
  return { cookie, 'x-sidecar-session': await claimSession(s.daemon.url, cookie, claim) };
}


export interface Captured {
  /** The request head exactly as received (request line and header lines). */
  head: string;
  /** Header lines as [name, value], in order, duplicates kept. */
  headers: Array<[string, string]>;
  body: string;
}

export interface RawUpstream {
  /** Base URL with /v1, for `daemon.setUpstreamUrl`. */
  url: string;
  captured: Captured[];
  /** Extra response header lines sent with every answer. */
  responseHeaders: string[];
  close(): Promise<void>;
}

const CANNED = JSON.stringify({
  id: 'chatcmpl-raw',
  object: 'chat.completion',
  created: 1,
  model: MODEL,
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
});

/**
 * An upstream on node:net that records each request's bytes exactly (an
 * HTTP server would fold duplicate headers before we could count them) and
 * answers every request with one small chat completion.
 */
export async function startRawUpstream(): Promise<RawUpstream> {
  const captured: Captured[] = [];
  const sockets = new Set<Socket>();
  const state = { responseHeaders: [] as string[] };
  const server: NetServer = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.subarray(0, end).toString('latin1');
        const headers = head
          .split('\r\n')
          .slice(1)
          .map((l): [string, string] => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]);
        const len = Number(headers.find(([k]) => k === 'content-length')?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        captured.push({ head, headers, body: buf.subarray(end + 4, end + 4 + len).toString('utf8') });
        buf = buf.subarray(end + 4 + len);
        const extra = state.responseHeaders.map((h) => `${h}\r\n`).join('');
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(CANNED)}\r\n${extra}\r\n${CANNED}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    captured,
    get responseHeaders() {
      return state.responseHeaders;
    },
    set responseHeaders(v: string[]) {
      state.responseHeaders = v;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A plain TCP listener that counts connections: proof that nothing was sent somewhere. */
export async function startTrap(): Promise<{ url: string; port: number; connections: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const trap = {
    url: '',
    port: 0,
    connections: 0,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createNetServer((socket) => {
    trap.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  trap.port = (server.address() as AddressInfo).port;
  trap.url = `http://127.0.0.1:${trap.port}`;
  return trap;
}

export interface Finding {
  where: string;
  needle: string;
}

/** Every regular file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) out.push(...filesUnder(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

/**
 * Where each needle occurs in `haystacks` (name → bytes or text). Bytes are
 * searched as bytes, so SQLite pages, WAL frames and binary files count;
 * each needle is also searched as its middle 20 characters, so a secret cut
 * short or wrapped in other text is still found.
 */
export function findNeedles(haystacks: ReadonlyMap<string, Buffer | string>, needles: readonly string[]): Finding[] {
  const found: Finding[] = [];
  for (const [where, hay] of haystacks) {
    const buf = typeof hay === 'string' ? Buffer.from(hay) : hay;
    for (const needle of needles) {
      const middle = needle.length > 24 ? needle.slice(Math.floor(needle.length / 2) - 10, Math.floor(needle.length / 2) + 10) : needle;
      if (buf.includes(needle) || buf.includes(middle)) found.push({ where, needle });
    }
  }
  return found;
}

/** The files of a data dir as haystacks, read now (WAL and SHM included while they exist). */
export function snapshotFiles(dir: string, label: string, into: Map<string, Buffer | string>): void {
  for (const f of filesUnder(dir)) {
    try {
      into.set(`${label}:${f}`, readFileSync(f));
    } catch {
      /* removed between the listing and the read (a checkpointed WAL) */
    }
  }
}

export type { UsageRow } from '../helpers/ledger.js';

/** A token's ledger rows, oldest first. */
export function listUsage(s: Stack, tokenId: string): UsageRow[] {
  return ledgerOf(s.daemon.db, tokenId);
}
