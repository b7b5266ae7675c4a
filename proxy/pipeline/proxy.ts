/**
 * Forwarded routes: rate limit, reserve the worst case, send upstream with the
 * real key, pass the answer back (streams event by event, never buffered),
 * then settle what it actually cost. Every path out of here settles exactly
 * once, and the reservation is released on every path.
 */
import type { Dispatcher } from 'undici';
import type { Limits } from '../core/config.js';
import { badGateway, paymentRequired, rateLimited, SidecarError, type ErrorType } from '../core/errors.js';
import { countTokens, tokenizerReady } from '../pricing/tokenizer.js';
import type { RequestBody } from './body.js';
import type { LedgerRow, Reservation } from './budget.js';
import { estimate, type Estimate } from './estimate.js';
import { mapTransportError, responseHeaders } from './forward.js';
import type { RequestContext } from './handler.js';
import { deliveredText, DONE_EVENT, reportedCost, SseTap, usageOf, type Usage } from './meter.js';
import type { Meter } from './routes.js';
import { sendError } from './respond.js';

/** Cap on a buffered JSON response (non-streamed answers are small; a larger one is an upstream fault). */
const MAX_JSON_RESPONSE_BYTES = 64 * 1024 * 1024;
/** Cap on an upstream error body we read to relay. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

interface Outcome {
  status: number;
  usage: Usage | null;
  /** Completion tokens counted from what was delivered, when usage is missing. */
  countedCompletion: number | null;
  reportedCostMicros: number | null;
  streamed: boolean;
  errorCode: string | null;
  /**
   * What the client gets last, written only after the request is settled (a
   * JSON body, or a stream's `[DONE]`): whoever saw the end of a response can
   * rely on it being in the ledger, even if the daemon dies a moment later.
   */
  trailer?: Buffer | string | null;
}

export async function forwardRoute(ctx: RequestContext, body: RequestBody): Promise<void> {
  const { deps, principal, route, req, res } = ctx;
  const release = deps.limiter.acquire(principal.token, ctx.now);
  let reservation: Reservation | null = null;
  let est: Estimate | null = null;
  try {
    const meter = route.def.forward!.meter;
    // Without a budget anywhere in the chain nothing needs the prompt counted up front: an upper bound
    // validates the body and the upstream's usage settles it. With one, count exactly, since reserving
    // an upper bound would refuse concurrent requests that fit.
    const budgeted = principal.chain.some((t) => t.monthlyBudget !== null);
    if (budgeted && meter !== 'reported' && meter !== 'call') await tokenizerReady();
    est = estimate(meter, body.json, deps.prices, deps.limits.defaultMaxTokens, budgeted ? 'exact' : 'upper');
    reservation = deps.budgets.reserve(principal.chain, est.worstCaseMicros, ctx.now);
    const key = deps.key.current();

    // Ask for usage in streams so the stream can be metered, and hide that chunk from clients that did not ask.
    let payload: Buffer | string | null = body.raw.length > 0 ? body.raw : null;
    let hideUsage = false;
    if (est.stream && (meter === 'chat' || meter === 'completion') && body.json) {
      const so = body.json.stream_options as Record<string, unknown> | null | undefined;
      if (!so || so.include_usage !== true) {
        body.json.stream_options = { ...(so && typeof so === 'object' ? so : {}), include_usage: true };
        payload = JSON.stringify(body.json);
        hideUsage = true;
      }
    }

    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onClose);
    let up: Dispatcher.ResponseData;
    try {
      up = await deps.upstream().request({
        method: req.method ?? 'GET',
        path: route.upstreamPath,
        headers: req.headers,
        body: payload,
        key,
        requestId: ctx.requestId,
        signal: abort.signal,
      });
    } catch (err) {
      if (abort.signal.aborted) {
        if (!est.exact) est = await exactEstimate(ctx, body, est);
        await settle(ctx, reservation, est, { status: 499, usage: null, countedCompletion: 0, reportedCostMicros: null, streamed: est.stream, errorCode: 'client_closed' });
        reservation = null;
        return;
      }
      throw err;
    }

    const cap = new ResponseCap(up.body, deps.limits);
    let outcome: Outcome;
    try {
      outcome =
        up.statusCode >= 400
          ? await relayUpstreamError(ctx, up)
          : isEventStream(up.headers['content-type'])
            ? await relayStream(ctx, up, new SseTap(hideUsage), abort.signal, cap)
            : isJson(up.headers['content-type'])
              ? await relayJson(ctx, up, meter, cap)
              : await relayOpaque(ctx, up, abort.signal, cap);
    } finally {
      cap.done();
    }
    res.off('close', onClose);
    // Usage never came: the prompt is charged as counted, not as its upper bound.
    if (!outcome.usage && outcome.countedCompletion !== null && !est.exact) est = await exactEstimate(ctx, body, est);
    await settle(ctx, reservation, est, outcome);
    reservation = null;
    if (!res.writableEnded && !res.destroyed) {
      if (outcome.trailer) res.end(outcome.trailer);
      else res.end();
    }
  } finally {
    deps.budgets.release(reservation);
    release();
  }
}

async function exactEstimate(ctx: RequestContext, body: RequestBody, est: Estimate): Promise<Estimate> {
  await tokenizerReady();
  const exact = estimate(ctx.route.def.forward!.meter, body.json, ctx.deps.prices, ctx.deps.limits.defaultMaxTokens, 'exact');
  return { ...est, promptTokens: exact.promptTokens, exact: true };
}

function isEventStream(ct: unknown): boolean {
  return typeof ct === 'string' && ct.startsWith('text/event-stream');
}
function isJson(ct: unknown): boolean {
  return typeof ct === 'string' && (ct.startsWith('application/json') || ct.includes('+json'));
}

/** Settles the request: one ledger row, spend charged to the whole chain, reservation released. */
async function settle(ctx: RequestContext, reservation: Reservation | null, est: Estimate, o: Outcome): Promise<void> {
  const { deps } = ctx;
  let prompt = 0;
  let completion = 0;
  let usageSource: LedgerRow['usage_source'] = 'none';
  if (o.usage) {
    prompt = o.usage.promptTokens;
    completion = o.usage.completionTokens;
    usageSource = 'upstream';
  } else if (o.countedCompletion !== null) {
    // Usage never arrived (or the client or upstream left first): charge the prompt and what was actually delivered.
    prompt = est.promptTokens;
    completion = o.countedCompletion;
    usageSource = prompt + completion > 0 ? 'counted' : 'none';
  }
  const model = o.usage?.model ?? est.model ?? null;
  let cost = 0;
  let costSource: LedgerRow['cost_source'] = 'none';
  // The cost in the response's own usage is the most specific figure; a header cost comes next.
  const reported = o.usage?.reportedCostMicros ?? o.reportedCostMicros ?? null;
  if (reported !== null) {
    cost = reported;
    costSource = 'upstream';
  } else if (prompt + completion > 0) {
    const c = deps.prices.cost(est.model ?? model ?? undefined, prompt, completion);
    cost = c.micros;
    costSource = c.source === 'upstream' ? 'price' : c.source;
  } else if (ctx.route.def.forward?.meter === 'call' && o.status < 400) {
    // Images, audio and services the upstream did not price: the default call price, flagged, never free.
    cost = deps.prices.callPriceMicros();
    costSource = 'default';
  }
  const row: LedgerRow = {
    ts: deps.clock(),
    request_id: ctx.requestId,
    token_id: ctx.principal.token.id,
    method: ctx.req.method ?? 'GET',
    route: ctx.route.def.path,
    model,
    prompt_tokens: prompt,
    completion_tokens: completion,
    cost_micros: cost,
    status: o.status,
    latency_ms: performance.now() - ctx.startedAt,
    streamed: o.streamed ? 1 : 0,
    usage_source: usageSource,
    cost_source: costSource,
    error_code: o.errorCode,
  };
  try {
    await deps.budgets.settle(reservation, ctx.principal.chain, row);
  } catch (err) {
    // The response is already on its way; keep the reservation so the money stays counted, and say so loudly.
    deps.log.error({ err, requestId: ctx.requestId, tokenId: row.token_id }, 'could not write the ledger row; it and its reservation are held until the disk accepts writes again');
    return;
  }
}

/** Why a response was cut off by ResponseCap. */
class ResponseCutOff extends Error {
  constructor(readonly reason: 'time' | 'size') {
    super(reason === 'time' ? 'the upstream response ran past the time limit' : 'the upstream response ran past the size limit');
  }
}

/**
 * Bounds one upstream response in time and bytes, whatever its kind. The idle
 * timeout only catches silence; an upstream that keeps streaming (a loop, a
 * fault, a hostile endpoint) would otherwise hold the socket, the
 * reservation and the agent's concurrency slot forever.
 */
class ResponseCap {
  reason: 'time' | 'size' | null = null;
  private bytes = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly body: Dispatcher.ResponseData['body'],
    private readonly limits: Limits,
  ) {
    this.timer = setTimeout(() => this.cut('time'), limits.maxResponseMs);
  }

  count(n: number): void {
    this.bytes += n;
    if (this.bytes > this.limits.maxResponseBytes) this.cut('size');
  }

  done(): void {
    clearTimeout(this.timer);
  }

  get code(): string {
    return this.reason === 'time' ? 'upstream_response_too_long' : 'upstream_response_too_large';
  }

  get message(): string {
    return this.reason === 'time'
      ? `SkillBoss kept sending past the sidecar's limit of ${Math.round(this.limits.maxResponseMs / 1000)} s per response; it was cut off, and what was delivered is charged.`
      : `SkillBoss sent more than the sidecar's limit of ${this.limits.maxResponseBytes} bytes per response; it was cut off, and what was delivered is charged.`;
  }

  private cut(reason: 'time' | 'size'): void {
    if (this.reason) return;
    this.reason = reason;
    this.body.destroy(new ResponseCutOff(reason));
  }
}

async function readCapped(body: Dispatcher.ResponseData['body'], cap: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > cap) {
      body.destroy();
      return null;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

/** A non-streamed JSON answer: read whole (it is atomic for the client anyway), meter, then send. */
async function relayJson(ctx: RequestContext, up: Dispatcher.ResponseData, meter: Meter, cap: ResponseCap): Promise<Outcome> {
  let buf: Buffer | null;
  try {
    buf = await readCapped(up.body, Math.min(MAX_JSON_RESPONSE_BYTES, ctx.deps.limits.maxResponseBytes));
  } catch (err) {
    // A body that stalls, breaks or runs too long is the upstream's failure (502/504), not an internal error.
    if (cap.reason) throw badGateway(cap.code, cap.message);
    throw mapTransportError(err, ctx.deps.upstream().opts);
  }
  if (buf === null) throw badGateway('upstream_response_too_large', 'SkillBoss sent a response larger than the sidecar relays.');
  let obj: Record<string, unknown> | null = null;
  try {
    const parsed: unknown = JSON.parse(buf.toString('utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) obj = parsed as Record<string, unknown>;
  } catch {
    throw badGateway('upstream_invalid_response', 'SkillBoss sent a response that is not valid JSON.');
  }
  const usage = obj ? usageOf(obj) : null;
  const countable = !usage && obj && meter !== 'reported' && meter !== 'call' && meter !== 'embedding';
  if (countable) await tokenizerReady();
  const counted = countable && obj ? countTokens(deliveredText(meter, obj)) : null;
  ctx.res.writeHead(up.statusCode, { ...responseHeaders(up.headers), 'content-length': buf.length });
  return {
    status: up.statusCode,
    usage,
    countedCompletion: counted,
    reportedCostMicros: reportedCost(up.headers['x-skillboss-cost']),
    streamed: false,
    errorCode: null,
    trailer: buf,
  };
}


/** A streamed answer: forwarded event by event as it arrives, metered by the tap. */
async function relayStream(ctx: RequestContext, up: Dispatcher.ResponseData, tap: SseTap, signal: AbortSignal, cap: ResponseCap): Promise<Outcome> {
  const { res } = ctx;
  const headers = responseHeaders(up.headers);
  res.writeHead(up.statusCode, { ...headers, 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
  res.flushHeaders();
  let errorCode: string | null = null;
  let status = up.statusCode;
  try {
    for await (const chunk of up.body) {
      cap.count((chunk as Buffer).length);
      const out = tap.push(chunk as Buffer);
      if (out && !res.write(out)) await drained(res, signal);
    }
    const rest = tap.flush();
    if (rest) res.write(rest);
    if (!tap.sawDone && !tap.usage) {
      // The upstream ended the stream without finishing it.
      errorCode = 'upstream_stream_incomplete';
    }
  } catch (err) {
    if (tap.sawDone && !signal.aborted) {
      // The stream was finished; only the connection's close was untidy.
    } else if (signal.aborted) {
      status = 499;
      errorCode = 'client_closed';
    } else if (cap.reason) {
      status = 502;
      errorCode = cap.code;
      const e = { error: { message: cap.message, type: 'upstream_error', code: errorCode } };
      if (!res.destroyed) res.write(`data: ${JSON.stringify(e)}\n\n`);
      ctx.deps.log.warn({ requestId: ctx.requestId, code: errorCode }, 'upstream response cut off');
    } else {
      status = 502;
      errorCode = 'upstream_stream_broken';
      // Tell SDKs the stream failed (they raise on an error object) rather than let it look complete.
      const e = { error: { message: 'The upstream connection broke in the middle of the stream; what was delivered is charged.', type: 'upstream_error', code: errorCode } };
      if (!res.destroyed) res.write(`data: ${JSON.stringify(e)}\n\n`);
      ctx.deps.log.warn({ requestId: ctx.requestId, err: (err as Error).message }, 'upstream stream broke');
    }
  }
  // A cost header is sent before the stream starts, so it can only be trusted for a stream that finished.
  const finished = tap.sawDone || tap.usage !== null;
  return {
    status,
    usage: tap.usage,
    countedCompletion: tap.usage ? null : (await tokenizerReady(), tap.countDelivered()),
    reportedCostMicros: finished ? reportedCost(up.headers['x-skillboss-cost']) : null,
    streamed: true,
    errorCode,
    trailer: tap.sawDone ? DONE_EVENT : null,
  };
}

function drained(res: RequestContext['res'], signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      res.off('drain', done);
      signal.removeEventListener('abort', fail);
      resolve();
    };
    const fail = () => {
      res.off('drain', done);
      reject(new Error('client closed'));
    };
    res.once('drain', done);
    signal.addEventListener('abort', fail, { once: true });
  });
}

/** Anything else (audio bytes, images): piped through untouched; metered by a reported cost only. */
async function relayOpaque(ctx: RequestContext, up: Dispatcher.ResponseData, signal: AbortSignal, cap: ResponseCap): Promise<Outcome> {
  const { res } = ctx;
  const headers = responseHeaders(up.headers);
  const len = up.headers['content-length'];
  res.writeHead(up.statusCode, typeof len === 'string' ? { ...headers, 'content-length': len } : headers);
  let status = up.statusCode;
  let errorCode: string | null = null;
  try {
    for await (const chunk of up.body) {
      cap.count((chunk as Buffer).length);
      if (!res.write(chunk)) await drained(res, signal);
    }
  } catch {
    status = signal.aborted ? 499 : 502;
    if (!signal.aborted && cap.reason) errorCode = cap.code;
    // Bytes already sent cannot be taken back; ending short (not "finishing") tells the client it is incomplete.
    if (!signal.aborted) res.destroy();
  }
  return { status, usage: null, countedCompletion: null, reportedCostMicros: reportedCost(up.headers['x-skillboss-cost']), streamed: false, errorCode };
}

/**
 * The upstream refused. Its body is relayed only after the real key is
 * scrubbed from it, and refusals about the sidecar's own key become 502s, so
 * an agent is never told its own token is bad when the human's key is.
 */
async function relayUpstreamError(ctx: RequestContext, up: Dispatcher.ResponseData): Promise<Outcome> {
  const { deps } = ctx;
  const raw = (await readCapped(up.body, MAX_ERROR_BODY_BYTES)) ?? Buffer.from('');
  const text = deps.key.redact(raw.toString('utf8'));
  let upstreamMessage = '';
  try {
    const e = (JSON.parse(text) as { error?: { message?: unknown } }).error;
    if (typeof e?.message === 'string') upstreamMessage = e.message.slice(0, 500);
  } catch {
    /* not JSON */
  }
  const said = upstreamMessage ? ` SkillBoss said: ${upstreamMessage}` : '';
  const status = up.statusCode;
  let err: SidecarError;
  if (status === 401) {
    deps.upstreamState.update({ key: 'invalid', lastError: 'SkillBoss rejected the API key (401)' });
    err = badGateway('upstream_key_rejected', 'SkillBoss rejected the sidecar\'s own API key. This is not your token\'s fault: the human running the sidecar must run `skillboss-sidecar key set` with a valid key.');
  } else if (status === 402) {
    deps.upstreamState.update({ credits: 'out', lastError: 'SkillBoss reports insufficient credits (402)' });
    err = paymentRequired('upstream_credits_exhausted', `The SkillBoss account behind this sidecar is out of credits; the human must add funds.${said}`);
  } else if (status === 429) {
    const ra = Number(up.headers['retry-after']);
    err = rateLimited('upstream_rate_limited', `SkillBoss is rate limiting requests; retry later.${said}`, Number.isFinite(ra) && ra > 0 ? ra : 1);
  } else if (status >= 500) {
    err = badGateway('upstream_error', `SkillBoss answered ${status}.${said}`);
  } else {
    const type: ErrorType = status === 403 ? 'permission_error' : status === 404 ? 'not_found_error' : 'invalid_request_error';
    err = new SidecarError(status, type, status === 403 ? 'upstream_forbidden' : 'upstream_rejected', upstreamMessage || `SkillBoss answered ${status}.`);
  }
  sendError(ctx.res, err);
  return { status: err.status, usage: null, countedCompletion: null, reportedCostMicros: null, streamed: false, errorCode: err.code };
}
