/**
 * Stage 9, relay: the upstream's answer goes back to the agent as it is —
 * streams event by event, never buffered; JSON read whole (it is atomic for
 * the client anyway); anything else piped; refusals scrubbed of the real key
 * and mapped so an agent is never blamed for the human's key. Every kind is
 * bounded in time and bytes. What the relay saw is the Outcome the meter
 * prices.
 */
import { badGateway, paymentRequired, rateLimited, SidecarError, type ErrorType } from '../core/errors.js';
import type { RequestContext } from './context.js';
import { dialectOf } from './dialect.js';
import type { Estimate } from './estimate.js';
import type { Sent } from './forward.js';
import { SCAN_FROM_BYTES } from './body.js';
import type { Outcome } from './meter.js';
import { METERS, type MeterSpec } from './meters.js';
import { sendError } from './respond.js';
import { ResponseCap } from './cap.js';
import { scanBody, type BodyScan } from './scan.js';
import type { StreamTap } from './sse.js';
import { mapTransportError, responseHeaders, type Abortable, type UpstreamBody, type UpstreamResponse } from './upstream.js';
import { reportedCost } from './usage.js';
import { balanceWarningText, stripInjected } from '../upstream/hygiene.js';
import { AGENT_ANSWERS, filterModelList } from '../upstream/models.js';
import { refusingModelList } from '../tokens/rules.js';
import { sidecarPollUrl } from './jobs.js';

/** Cap on a buffered JSON response (non-streamed answers are small; a larger one is an upstream fault). */
const MAX_JSON_RESPONSE_BYTES = 64 * 1024 * 1024;
/** Cap on an upstream error body we read to relay. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * Passes the upstream's answer to the client by its kind; the end of it
 * (`trailer`) waits for the settlement. On a translated route the answer is
 * translated on its way: JSON from the object already parsed for metering,
 * streams event by event by a translating tap.
 */
export async function relay(ctx: RequestContext, sent: Sent, est: Estimate): Promise<Outcome> {
  const { up, signal } = sent;
  const cap = new ResponseCap(up.body, ctx.deps.limits);
  const dialect = dialectOf(ctx.deps.dialects, ctx.route.def);
  const spec = METERS[ctx.route.def.forward!.meter];
  // The model the client asked for is echoed back; the prompt as counted stands in a translated stream until the upstream's usage comes.
  const model = est.model ?? '';
  const onInjected = ctx.deps.hygiene.passInjectedFields ? undefined : (removed: Record<string, unknown>) => heardInjected(ctx, removed);
  const tap = () =>
    dialect.tap({ model, promptTokens: est.exact ? est.promptTokens : 0, hideUsage: sent.hideUsage, readUsage: spec.usage.stream, redact: (t) => ctx.deps.key.redact(t), ...(onInjected ? { onInjected } : {}) });
  const translate = dialect.response;
  try {
    return up.statusCode >= 400
      ? await relayUpstreamError(ctx, up, sent.maxCostUsd)
      : isEventStream(up.headers['content-type'])
        ? await relayStream(ctx, up, tap(), signal, cap)
        : isJson(up.headers['content-type'])
          ? await relayJson(ctx, up, spec, cap, translate ? (obj) => translate(obj, model) : null, onInjected)
          : await relayOpaque(ctx, up, signal, cap);
  } finally {
    cap.done();
    sent.detach();
  }
}

/** What the client is told when it left before the upstream answered: nothing; the ledger says 499. */
export function clientLeft(streamed: boolean): Outcome {
  return { status: 499, usage: null, countedCompletion: 0, reportedCostMicros: null, streamed, errorCode: 'client_closed' };
}

/** Ends the response once it is settled: the JSON body, or a stream's `[DONE]`. */
export function finish(ctx: RequestContext, outcome: Outcome): void {
  const { res } = ctx;
  if (res.writableEnded || res.destroyed) return;
  if (outcome.trailer) res.end(outcome.trailer);
  else res.end();
}

function isEventStream(ct: unknown): boolean {
  return typeof ct === 'string' && ct.startsWith('text/event-stream');
}
function isJson(ct: unknown): boolean {
  return typeof ct === 'string' && (ct.startsWith('application/json') || ct.includes('+json'));
}

async function readCapped(body: UpstreamBody, cap: number): Promise<Buffer | null> {
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
async function relayJson(
  ctx: RequestContext,
  up: UpstreamResponse,
  spec: MeterSpec,
  cap: ResponseCap,
  translate: ((obj: Record<string, unknown>) => unknown) | null,
  onInjected: ((removed: Record<string, unknown>) => void) | undefined,
): Promise<Outcome> {
  let buf: Buffer | null;
  try {
    buf = await readCapped(up.body, Math.min(MAX_JSON_RESPONSE_BYTES, ctx.deps.limits.maxResponseBytes));
  } catch (err) {
    // A body that stalls, breaks or runs too long is the upstream's failure (502/504), not an internal error.
    if (cap.reason) throw badGateway(cap.code, cap.message);
    throw mapTransportError(err, ctx.deps.upstream().opts);
  }
  if (buf === null) throw badGateway('upstream_response_too_large', 'SkillBoss sent a response larger than the sidecar relays.');
  // A large answer (embeddings of many inputs) is scanned for its usage; it is parsed whole only when that is missing.
  // A translated answer is parsed whole anyway (to translate it), so it is not scanned.
  const scanned = !translate && !spec.job && buf.length >= SCAN_FROM_BYTES ? scanAnswer(buf) : null;
  let usage = scanned ? spec.usage.json(scanned.fields) : null;
  let obj: Record<string, unknown> | null = null;
  // SkillBoss's `_` fields come out (upstream/hygiene.ts): a scanned answer is parsed whole only when its top level has one.
  const injectedTop = onInjected !== undefined && (scanned ? Object.keys(scanned.kinds).some((k) => k.startsWith('_')) : buf.includes(INJECTED_MARK));
  // A job's 202 is read whole: its poll_url becomes the sidecar's own (jobs.ts).
  const jobStarted = spec.job === 'start' && up.statusCode === 202;
  // A token with a model list (or under one) sees only the models it may use (issue 24, item 4).
  const answer = ctx.route.def.forward!.answer;
  const chain = ctx.principal.chain;
  const filtered = answer === 'model-list' && chain.some((t) => t.models !== null);
  if (!usage || injectedTop || jobStarted || filtered) {
    try {
      const parsed: unknown = JSON.parse(buf.toString('utf8'));
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) obj = parsed as Record<string, unknown>;
    } catch {
      throw badGateway('upstream_invalid_response', 'SkillBoss sent a response that is not valid JSON.');
    }
    usage ??= obj ? spec.usage.json(obj) : null;
    // Fails closed: a list the filter cannot read is not shown to a token with a model list as it came.
    if (filtered && !obj) throw badGateway('upstream_invalid_response', 'SkillBoss sent a model list that is not a JSON object, so the sidecar cannot show this token only the models it may use.');
  }
  const after = obj ? obj.wallet_balance_after_usd : scanned?.fields.wallet_balance_after_usd;
  if (typeof after === 'number' && Number.isFinite(after)) ctx.deps.events.emit('upstream_said', { kind: 'balance_after', usd: after });
  let changed = false;
  if (injectedTop && obj) {
    const { removed } = stripInjected(obj);
    if (removed) {
      onInjected!(removed);
      changed = true;
    }
  }
  // The real service's model answers, in the shape OpenAI clients read (upstream/models.ts).
  if (answer && obj && AGENT_ANSWERS[answer](obj)) changed = true;
  if (jobStarted && obj && sidecarPollUrl(obj)) changed = true;
  let filterHeader: Record<string, string> = {};
  if (filtered && obj) {
    const { shown, total } = filterModelList(obj, (id) => refusingModelList(chain, id) === null);
    const lists = chain.filter((t) => t.models !== null).map((t) => t.models!.join(','));
    filterHeader = { 'x-sidecar-models-filtered': `shown=${shown}; total=${total}; allowed=${lists.join(' & ')}` };
    changed = true;
  }
  if (changed && !translate && obj) buf = Buffer.from(JSON.stringify(obj));
  const counted = !usage && obj && spec.answerText ? await countText(ctx, spec.answerText(obj)) : null;
  if (translate && obj) buf = Buffer.from(JSON.stringify(translate(obj)));
  ctx.res.writeHead(up.statusCode, { ...responseHeaders(up.headers), ...filterHeader, 'content-length': buf.length });
  return {
    status: up.statusCode,
    usage,
    countedCompletion: counted,
    reportedCostMicros: reportedCost(up.headers['x-skillboss-cost']),
    streamed: false,
    errorCode: null,
    answer: obj,
    trailer: buf,
  };
}

/** A streamed answer: forwarded event by event as it arrives, metered by the tap. */
async function relayStream(ctx: RequestContext, up: UpstreamResponse, tap: StreamTap, signal: Abortable, cap: ResponseCap): Promise<Outcome> {
  const { res } = ctx;
  const headers = responseHeaders(up.headers);
  res.writeHead(up.statusCode, { ...headers, 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
  // The head goes out now only when an event is not already waiting behind it; otherwise it leaves with that
  // event, in one write and one packet (the client's first byte comes ~0.1 ms sooner, and a syscall is saved).
  // If those bytes give the client nothing yet (half an event, a hidden chunk), the head goes out alone then.
  let headHeld = up.body.readableLength > 0;
  if (!headHeld) res.flushHeaders();
  let errorCode: string | null = null;
  let errorMessage: string | null = null;
  let status = up.statusCode;
  try {
    for await (const chunk of up.body) {
      cap.count((chunk as Buffer).length);
      const out = tap.push(chunk as Buffer);
      if (headHeld) {
        headHeld = false;
        if (!out) res.flushHeaders();
      }
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
      errorMessage = cap.message;
      if (!res.destroyed) res.write(tap.failure(badGateway(errorCode, cap.message)));
      ctx.deps.log.warn({ requestId: ctx.requestId, code: errorCode }, 'upstream response cut off');
    } else {
      status = 502;
      errorCode = 'upstream_stream_broken';
      errorMessage = 'The upstream connection broke in the middle of the stream; what was delivered is charged.';
      // Tell SDKs the stream failed (they raise on an error event) rather than let it look complete.
      if (!res.destroyed) res.write(tap.failure(badGateway(errorCode, errorMessage)));
      ctx.deps.log.warn({ requestId: ctx.requestId, err: (err as Error).message }, 'upstream stream broke');
    }
  }
  // A cost header is sent before the stream starts, so it can only be trusted for a stream that finished.
  const finished = tap.sawDone || tap.usage !== null;
  return {
    status,
    usage: tap.usage,
    countedCompletion: tap.usage ? null : await countDelivered(ctx, tap),
    reportedCostMicros: finished ? reportedCost(up.headers['x-skillboss-cost']) : null,
    streamed: true,
    errorCode,
    errorMessage,
    trailer: status === 499 ? null : tap.trailer(),
  };
}

/** Tokens a stream delivered without reporting usage, counted off the event loop. */
async function countDelivered(ctx: RequestContext, tap: StreamTap): Promise<number> {
  const { text, uncountedTokens } = tap.delivered();
  const tokens = (await countText(ctx, text)) + uncountedTokens;
  tap.noteCounted(tokens);
  return tokens;
}

/** Tokens in delivered text, in the tokenizer pool; if that fails, its byte length (never less than the count). */
function countText(ctx: RequestContext, text: string): Promise<number> {
  return ctx.deps.tokenizer
    .countText(text)
    .catch(() => Buffer.byteLength(text, 'utf8'));
}

const ANSWER_FIELDS: ReadonlySet<string> = new Set(['usage', 'model', 'wallet_balance_after_usd']);

/** The usage of a JSON answer found by a scan of its top level (null when it has none or is not an object). */
/** The top level of a large JSON answer, scanned (null when it is not an object). */
function scanAnswer(buf: Buffer): BodyScan | null {
  try {
    return scanBody(buf, ANSWER_FIELDS, 10_000);
  } catch {
    return null;
  }
}

/** Where SkillBoss's `_` fields could start: an answer without these bytes has none. */
const INJECTED_MARK = Buffer.from('"_');

/** A 402 about the per-call cap (X-Max-Cost-Usd), as opposed to the account running dry. */
function isCapRefusal(code: string, message: string): boolean {
  return /max[_ -]?cost|cost[_ -]?cap|per[_ -]call/i.test(code) || /max[_ -]?cost|x-max-cost-usd/i.test(message);
}

/** What the `_` fields taken out of an answer say for the human: SkillBoss's balance warning. */
function heardInjected(ctx: RequestContext, removed: Record<string, unknown>): void {
  const warning = balanceWarningText(removed);
  if (warning) ctx.deps.events.emit('upstream_said', { kind: 'balance_warning', message: warning });
}

function drained(res: RequestContext['res'], signal: Abortable): Promise<void> {
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
async function relayOpaque(ctx: RequestContext, up: UpstreamResponse, signal: Abortable, cap: ResponseCap): Promise<Outcome> {
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
 * The upstream refused. Its message is relayed only after the body is decoded
 * and the real key scrubbed from every string in it, and refusals about the sidecar's own key become 502s, so
 * an agent is never told its own token is bad when the human's key is.
 */
async function relayUpstreamError(ctx: RequestContext, up: UpstreamResponse, maxCostUsd: string | null): Promise<Outcome> {
  const { deps } = ctx;
  const dialect = dialectOf(deps.dialects, ctx.route.def);
  const raw = (await readCapped(up.body, MAX_ERROR_BODY_BYTES)) ?? Buffer.from('');
  let upstreamMessage = '';
  let upstreamCode = '';
  try {
    // Decoded first, then every string redacted: redacting the raw text missed a key written with escapes.
    const e = (deps.key.redactValue(JSON.parse(raw.toString('utf8'))) as { error?: { message?: unknown; code?: unknown } | unknown }).error;
    const nested = e && typeof e === 'object' ? (e as { message?: unknown; code?: unknown }) : null;
    if (typeof nested?.message === 'string') upstreamMessage = deps.key.redact(nested.message.slice(0, 500));
    if (typeof nested?.code === 'string') upstreamCode = nested.code.slice(0, 100);
    else if (typeof e === 'string') upstreamCode = e.slice(0, 100);
  } catch {
    /* not JSON: nothing of it is relayed */
  }
  const said = upstreamMessage ? ` SkillBoss said: ${upstreamMessage}` : '';
  const status = up.statusCode;
  let err: SidecarError;
  if (status === 401) {
    // Some SkillBoss routes take only some keys ("wholesale" ones): a 401 here does not say the key is invalid.
    // The validity probe (the sync's GET /v1/models) decides, and the human hears it from there.
    deps.events.emit('upstream_said', { kind: 'route_key_rejected', route: ctx.route.def.path });
    err = badGateway(
      'upstream_key_rejected',
      'SkillBoss refused the sidecar\'s own API key on this route. This is not your token\'s fault: some SkillBoss routes accept only particular keys, and if the key itself is no longer valid the human running the sidecar must run `skillboss-sidecar key set` with a valid one (the sidecar is checking).',
    );
  } else if (status === 402 && maxCostUsd !== null && isCapRefusal(upstreamCode, upstreamMessage)) {
    // SkillBoss held the call to the cap the sidecar sent: the budget's refusal, not the account's.
    err = paymentRequired(
      'budget_exhausted',
      `This request may cost more than its budget allows: SkillBoss estimated it above the $${maxCostUsd} cap the sidecar sent (what this token's budget can pay for it, or your own lower X-Max-Cost-Usd). Nothing was charged. Ask for fewer tokens (max_tokens), or ask the human to raise the budget.`,
    );
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
    // A dialect's clients may ask for model names of their own by default; SkillBoss may call them otherwise.
    const hint = status === 404 ? (dialect.notFoundHint ?? '') : '';
    err = new SidecarError(status, type, status === 403 ? 'upstream_forbidden' : 'upstream_rejected', (upstreamMessage || `SkillBoss answered ${status}.`) + hint);
  }
  sendError(ctx.res, err, dialect);
  // The message as the agent got it (key already scrubbed), for the dashboard's request drawer.
  return { status: err.status, usage: null, countedCompletion: null, reportedCostMicros: null, streamed: false, errorCode: err.code, errorMessage: err.message };
}
