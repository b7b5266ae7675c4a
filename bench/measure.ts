/**
 * The three measurements, each against one target origin:
 *   load       autocannon at N connections (req/s, p50/p99 in ms; autocannon's resolution is 1 ms);
 *   latency    one keep-alive connection, sequential requests timed with hrtime (µs resolution);
 *   streams    sequential streamed requests: time to first body byte, total time, and the gaps
 *              between body reads (a buffering proxy shows one read and a TTFB close to the total).
 */
import autocannon from 'autocannon';
import { Client } from 'undici';
import { BENCH_MODEL, percentile, readCpuMs, round } from './common.js';

export const CHAT_PATH = '/v1/chat/completions';

/** A small, typical chat request (the sidecar tokenises the prompt for its budget estimate). */
export function chatBody(stream = false): string {
  return JSON.stringify({
    model: BENCH_MODEL,
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Say hello in one short sentence.' },
    ],
    max_tokens: 64,
    ...(stream ? { stream: true } : {}),
  });
}

export function chatHeaders(token: string): Record<string, string> {
  return { 'content-type': 'application/json', authorization: `Bearer ${token}` };
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** Non-2xx answers, transport errors and timeouts: anything but 0 makes the run suspect. */
  failures: number;
  /**
   * CPU time (user + system) the target process spent per request, µs: unlike
   * latency it barely moves when other processes compete for the cores.
   */
  cpuUsPerReq: number;
}

/** autocannon against `origin`; when `pid` is given, also that process's CPU time per request. */
export async function load(origin: string, token: string, connections: number, durationS: number, pid?: number, body: string = chatBody()): Promise<LoadResult> {
  const cpu0 = pid === undefined ? 0 : readCpuMs(pid);
  const r = await autocannon({
    url: origin + CHAT_PATH,
    method: 'POST',
    headers: chatHeaders(token),
    body,
    connections,
    duration: durationS,
    timeout: 10,
  });
  const completed = r.requests.total ?? 0;
  const cpuMs = pid === undefined ? Number.NaN : readCpuMs(pid) - cpu0;
  return {
    rps: Math.round(completed / r.duration),
    p50: r.latency.p50,
    p99: r.latency.p99,
    requests: completed,
    failures: r.non2xx + r.errors + r.timeouts,
    cpuUsPerReq: round((cpuMs * 1000) / Math.max(1, completed), 1),
  };
}

export interface LatencyResult {
  p50: number;
  p99: number;
  mean: number;
  n: number;
  /** CPU the target spent per request during the timed part (when its pid was given), µs. */
  cpuUsPerReq: number;
}

/**
 * `n` sequential requests on one keep-alive connection after `warmup` untimed
 * ones; ms to 3 decimals. With `pid`, also the target's CPU per request: at one
 * connection nothing is amortised, so this shows the fixed cost of a request.
 */
export async function latency(origin: string, token: string, n: number, warmup = 200, body: string = chatBody(), pid?: number): Promise<LatencyResult> {
  const client = new Client(origin, { pipelining: 1, keepAliveTimeout: 60_000 });
  const headers = chatHeaders(token);
  const times: number[] = [];
  let cpu0 = 0;
  try {
    for (let i = 0; i < warmup + n; i++) {
      if (i === warmup && pid !== undefined) cpu0 = readCpuMs(pid);
      const t0 = process.hrtime.bigint();
      const r = await client.request({ method: 'POST', path: CHAT_PATH, headers, body });
      await r.body.arrayBuffer();
      const t1 = process.hrtime.bigint();
      if (r.statusCode !== 200) throw new Error(`${origin} answered ${r.statusCode} in the latency loop`);
      if (i >= warmup) times.push(Number(t1 - t0) / 1e6);
    }
  } finally {
    await client.close();
  }
  const cpuMs = pid === undefined ? Number.NaN : readCpuMs(pid) - cpu0;
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  return {
    p50: round(percentile(times, 50), 3),
    p99: round(percentile(times, 99), 3),
    mean: round(mean, 3),
    n: times.length,
    cpuUsPerReq: round((cpuMs * 1000) / Math.max(1, times.length), 1),
  };
}

export interface StreamResult {
  /** Medians over the streams, ms. */
  ttfb: number;
  total: number;
  /** Body reads per stream (median); a buffered stream arrives in one or two. */
  reads: number;
  /** Median gap between consecutive body reads, ms (the upstream's chunk delay when nothing buffers). */
  gap: number;
}

export async function streams(origin: string, token: string, count: number): Promise<StreamResult> {
  const client = new Client(origin, { pipelining: 1, keepAliveTimeout: 60_000 });
  const headers = { ...chatHeaders(token), accept: 'text/event-stream' };
  const body = chatBody(true);
  const ttfb: number[] = [];
  const total: number[] = [];
  const reads: number[] = [];
  const gaps: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const t0 = process.hrtime.bigint();
      const r = await client.request({ method: 'POST', path: CHAT_PATH, headers, body });
      if (r.statusCode !== 200) throw new Error(`${origin} answered ${r.statusCode} to a streamed request`);
      let first = 0;
      let last = 0;
      let n = 0;
      let text = '';
      for await (const chunk of r.body) {
        const t = Number(process.hrtime.bigint() - t0) / 1e6;
        if (n === 0) first = t;
        else gaps.push(t - last);
        last = t;
        n++;
        text += (chunk as Buffer).toString('utf8');
      }
      if (!text.includes('data: [DONE]')) throw new Error(`${origin} ended a stream without [DONE]`);
      ttfb.push(first);
      total.push(Number(process.hrtime.bigint() - t0) / 1e6);
      reads.push(n);
    }
  } finally {
    await client.close();
  }
  return {
    ttfb: round(percentile(ttfb, 50), 3),
    total: round(percentile(total, 50), 3),
    reads: percentile(reads, 50),
    gap: round(percentile(gaps, 50), 3),
  };
}
