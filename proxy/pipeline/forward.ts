/**
 * Stage 8, forward: the request goes upstream with the real key. Streams are
 * asked for their usage (so they can be metered) and the client's leaving
 * aborts the upstream request.
 */
import type { Abortable, UpstreamResponse } from './upstream.js';
import type { RequestBody } from './body.js';
import type { RequestContext } from './context.js';
import type { Estimate } from './estimate.js';
import { METERS } from './meters.js';
import { withFields } from './scan.js';

/** An upstream answer on its way back, with what the relay needs to pass it on. */
export interface Sent {
  up: UpstreamResponse;
  /** The client did not ask for the usage chunk; the sidecar did, and hides it. */
  hideUsage: boolean;
  /** Aborted when the client leaves. */
  signal: Abortable;
  /** Stops watching the client once the answer is relayed. */
  detach(): void;
  /** The X-Max-Cost-Usd sent (USD), to tell SkillBoss's cap refusal from its out-of-credits one; null when none was. */
  maxCostUsd: string | null;
}

/** Sends the request upstream; null when the client left before the upstream answered. */
export async function forward(ctx: RequestContext, body: RequestBody, est: Estimate, reservedMicros: number | null = null): Promise<Sent | null> {
  const { deps, req, res } = ctx;
  const spec = METERS[ctx.route.def.forward!.meter];
  const key = deps.key.current();

  // Ask for usage in streams so the stream can be metered, and hide that chunk from clients that did not ask.
  let payload: Buffer | string | null = body.raw.length > 0 ? body.raw : null;
  let hideUsage = false;
  const set: Record<string, unknown> = {};
  if (est.stream && spec.streamUsage && (body.json || body.scan)) {
    const so = (body.json ?? body.scan!.fields).stream_options as Record<string, unknown> | null | undefined;
    if (!so || so.include_usage !== true) {
      set.stream_options = { ...(so && typeof so === 'object' ? so : {}), include_usage: true };
      hideUsage = true;
    }
  }
  // The completion bound the request was reserved for, when it is not the agent's own (estimate.ts, issue 25).
  if (est.bound && (body.json || body.scan)) for (const f of est.bound.fields) set[f] = est.bound.perChoice;
  if (Object.keys(set).length > 0) {
    // A scanned (large) body gets the fields spliced into its bytes; it is never re-serialised.
    if (body.scan) payload = withFields(body.raw, body.scan, set);
    else {
      Object.assign(body.json!, set);
      payload = JSON.stringify(body.json);
    }
  }

  const abort = new Departure();
  const onClose = () => {
    if (!res.writableFinished) abort.abort();
  };
  res.once('close', onClose);
  const extra = upstreamHeaders(ctx, reservedMicros);
  try {
    const up = await deps.upstream().request({
      method: req.method ?? 'GET',
      path: ctx.route.upstreamPath,
      headers: req.headers,
      body: payload,
      key,
      requestId: ctx.requestId,
      signal: abort,
      extra,
    });
    return { up, hideUsage, signal: abort, detach: () => res.off('close', onClose), maxCostUsd: extra['x-max-cost-usd'] ?? null };
  } catch (err) {
    if (abort.aborted) return null;
    throw err;
  }
}

/**
 * The client's leaving, as an AbortSignal would say it, without the EventTarget: an AbortController and its
 * signal cost ~10 µs of every request (profiled at 50 connections), and the forward and the relay only ever
 * need a flag and a few listeners. A listener is called once, in the order added, and never once it is removed.
 */
export class Departure implements Abortable {
  #aborted = false;
  #listeners: (() => void)[] = [];

  get aborted(): boolean {
    return this.#aborted;
  }

  /** Every listener is called at most once, as with `{ once: true }`. */
  addEventListener(_type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (!this.#aborted) this.#listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const i = this.#listeners.indexOf(listener);
    if (i !== -1) this.#listeners.splice(i, 1);
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    // Off the live list, so one a listener removes before its turn is skipped (as EventTarget does).
    for (let fn = this.#listeners.shift(); fn; fn = this.#listeners.shift()) fn();
  }
}

/** The most an agent may cap a call at with its own X-Max-Cost-Usd (and a sane bound on the header). */
const MAX_CAP_USD = 1_000_000;

/**
 * What the sidecar tells SkillBoss about the call: `X-Max-Cost-Usd`, the
 * reservation (its worst case, which fits every budget in the token's chain),
 * so SkillBoss refuses a call that would cost more than the budget can pay;
 * an agent's own lower cap is kept. `X-Agent-Name`, the token's name, so
 * SkillBoss's analytics split spend per agent (a setting turns it off).
 */
export function upstreamHeaders(ctx: RequestContext, reservedMicros: number | null): Record<string, string> {
  const out: Record<string, string> = {};
  let cap = reservedMicros !== null && reservedMicros > 0 ? reservedMicros : null;
  const own = ctx.req.headers['x-max-cost-usd'];
  if (typeof own === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(own)) {
    const usd = Number(own);
    if (usd <= MAX_CAP_USD) {
      const micros = Math.floor(usd * 1e6);
      if (cap === null || micros < cap) cap = micros;
    }
  }
  if (cap !== null) out['x-max-cost-usd'] = usdHeader(cap);
  if (ctx.deps.hygiene.sendAgentName) out['x-agent-name'] = headerSafe(ctx.principal.token.name);
  return out;
}

/** Micro-dollars as a USD decimal, exact (no float noise): 1234567 → "1.234567". */
export function usdHeader(micros: number): string {
  const whole = Math.floor(micros / 1e6);
  const frac = String(micros % 1e6).padStart(6, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : String(whole);
}

/** A token name as a header value: printable ASCII as it is, anything else percent-encoded, bounded. */
function headerSafe(name: string): string {
  return name.replace(/[^\x20-\x7e]|%/g, (c) => encodeURIComponent(c)).slice(0, 200);
}
