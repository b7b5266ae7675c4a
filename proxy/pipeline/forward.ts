/**
 * Stage 8, forward: the request goes upstream with the real key. Streams are
 * asked for their usage (so they can be metered) and the client's leaving
 * aborts the upstream request.
 */
import type { Dispatcher } from 'undici';
import type { RequestBody } from './body.js';
import type { RequestContext } from './context.js';
import type { Estimate } from './estimate.js';
import { METERS } from './meters.js';
import { withFields } from './scan.js';

/** An upstream answer on its way back, with what the relay needs to pass it on. */
export interface Sent {
  up: Dispatcher.ResponseData;
  /** The client did not ask for the usage chunk; the sidecar did, and hides it. */
  hideUsage: boolean;
  /** Aborted when the client leaves. */
  signal: AbortSignal;
  /** Stops watching the client once the answer is relayed. */
  detach(): void;
}

/** Sends the request upstream; null when the client left before the upstream answered. */
export async function forward(ctx: RequestContext, body: RequestBody, est: Estimate): Promise<Sent | null> {
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

  const abort = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) abort.abort();
  };
  res.once('close', onClose);
  try {
    const up = await deps.upstream().request({
      method: req.method ?? 'GET',
      path: ctx.route.upstreamPath,
      headers: req.headers,
      body: payload,
      key,
      requestId: ctx.requestId,
      signal: abort.signal,
    });
    return { up, hideUsage, signal: abort.signal, detach: () => res.off('close', onClose) };
  } catch (err) {
    if (abort.signal.aborted) return null;
    throw err;
  }
}
