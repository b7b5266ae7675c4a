/** Helpers for the simulator tests: a simulator for a file, real HTTP with fetch, SSE frame parsing. */
import OpenAI from 'openai';
import { afterAll, beforeAll } from 'vitest';
import { startSimulator, type Simulator } from '../../../proxy/simulator/index.js';

export const ADMIN_KEY = 'sk-test-admin-0123456789';

/** One simulator for the test file, and the official openai SDK pointed at it with the admin key; `ready` gets both once started. */
export function useSimulatorWithSdk(ready: (sim: Simulator, client: OpenAI) => void): void {
  let sim: Simulator | undefined;
  beforeAll(async () => {
    sim = await startSimulator({ apiKey: ADMIN_KEY });
    ready(sim, new OpenAI({ apiKey: ADMIN_KEY, baseURL: sim.url, maxRetries: 0 }));
  });
  afterAll(async () => {
    await sim?.close();
  });
}

export interface ApiResult {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export interface ApiOptions {
  key?: string | null;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Calls `path` (relative to the simulator's /v1 base, or absolute from the host when starting with /_sim). */
export async function api(sim: Simulator, method: string, path: string, opts: ApiOptions = {}): Promise<ApiResult> {
  const res = await send(sim, method, path, opts);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export function send(sim: Simulator, method: string, path: string, opts: ApiOptions = {}): Promise<Response> {
  const url = path.startsWith('/_sim') ? sim.url.replace(/\/v1$/, '') + path : sim.url + path;
  const headers: Record<string, string> = { ...opts.headers };
  const key = opts.key === undefined ? sim.adminKey() : opts.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const init: RequestInit = { method, headers };
  if (body !== undefined) init.body = body;
  if (opts.signal) init.signal = opts.signal;
  return fetch(url, init);
}

export interface SseRead {
  /** `data:` payloads in order (JSON-parsed, or the raw string for [DONE]). */
  frames: unknown[];
  /** Raw `data:` strings. */
  raw: string[];
  /** Event names for `event:` frames (Responses API). */
  events: string[];
  /** The error that ended the body, if it did not end cleanly. */
  error?: unknown;
}

/** Reads a whole SSE body, frame by frame; a torn connection is reported in `error`, not thrown. */
export async function readSse(res: Response, stopAfter = Number.POSITIVE_INFINITY): Promise<SseRead> {
  const out: SseRead = { frames: [], raw: [], events: [] };
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        for (const line of frame.split('\n')) {
          if (line.startsWith('event: ')) out.events.push(line.slice(7));
          if (!line.startsWith('data: ')) continue;
          const d = line.slice(6);
          out.raw.push(d);
          out.frames.push(d === '[DONE]' ? d : JSON.parse(d));
        }
        if (out.raw.length >= stopAfter) {
          await reader.cancel();
          return out;
        }
      }
    }
  } catch (e) {
    out.error = e;
  }
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns true (or fails after `ms`). */
export async function eventually(fn: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}
