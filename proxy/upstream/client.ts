/**
 * JSON calls the sidecar makes to SkillBoss with the real key for its own
 * purposes (sync, key checks, rotation) — not on the agent path. Errors carry
 * the status and never the key.
 */
import { request } from 'undici';

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
    res = await request(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? null : JSON.stringify(body),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UpstreamCallError(`could not reach ${baseUrl}${code ? ` (${code})` : ''}`, null);
  }
  const text = await res.body.text();
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
