/**
 * JSON calls the sidecar makes to SkillBoss with the real key for its own
 * purposes (sync, key checks, rotation) — not on the agent path. Errors carry
 * the status and never the key.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);

/**
 * One call with node:http (node:https, loaded only then, for an https URL): no client library loads at start-up
 * for the sync. `timeoutMs` bounds the silence, waiting for the answer or in the middle of it.
 */
function call(url: string, method: string, headers: Record<string, string>, body: string | null, timeoutMs: number): Promise<{ statusCode: number; text: string }> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? ((requireHere('node:https') as typeof Https).request as unknown as typeof httpRequest) : httpRequest;
  return new Promise((resolve, reject) => {
    const h = body === null ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
    const req = request(u, { method, headers: h }, (res: IncomingMessage) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

export class UpstreamCallError extends Error {
  override name = 'UpstreamCallError';
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
  }
}

export async function upstreamJson<T>(
  baseUrl: string,
  key: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
  timeoutMs = 15_000,
): Promise<T> {
  let res;
  try {
    const headers = { authorization: `Bearer ${key}`, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) };
    res = await call(`${baseUrl}${path}`, method, headers, body === undefined ? null : JSON.stringify(body), timeoutMs);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UpstreamCallError(`could not reach ${baseUrl}${code ? ` (${code})` : ''}`, null);
  }
  const text = res.text;
  if (res.statusCode >= 400) {
    let msg = '';
    try {
      msg = String((JSON.parse(text) as { error?: { message?: string } }).error?.message ?? '');
    } catch {
      /* not JSON */
    }
    // The upstream might echo the key back; never carry it further.
    msg = msg.split(key).join('sk-…').slice(0, 300);
    throw new UpstreamCallError(`${method} ${path} answered ${res.statusCode}${msg ? `: ${msg}` : ''}`, res.statusCode);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UpstreamCallError(`${method} ${path} answered with something that is not JSON`, res.statusCode);
  }
}
