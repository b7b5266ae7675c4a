/**
 * SkillBoss's services, as the real API shows them (reference §3.1, §5, §6):
 * `POST /v1/run {model: "<vendor>/<name>", inputs}` answering in the vendor's
 * own shape, long jobs answering `202 {status: "accepted", job_id, poll_url}`
 * and polled at `GET /v1/job/{id}`, `POST /v1/pilot` picking a model by type,
 * and `Idempotency-Key` charging at most once per key for 24 hours.
 *
 * A few models of different kinds stand in for the 600+:
 *   image  answers JSON with `image_url` and `cost_usd` (less than its list price, as real runs can be)
 *   tts    answers binary audio, chunked, with no cost in it
 *   video  answers 202 and is done after a few polls; the completed poll carries `cost_usd`
 *   text   priced per token (`unit: token`), answers chat-shaped JSON with `usage`, or SSE when `stream: true`
 *
 * Routed only in the real dialect (`REAL_ROUTES`, routes.ts): the seed page
 * has no `/v1/run`. Its `GET /v1/models` lists these models (with `type`,
 * `category` and `vendor`, priced in their `GET /v1/models/{id}` detail) when
 * the simulator is started with `services: true` (`--services`).
 */
import { createHash } from 'node:crypto';
import type { Call } from './context.js';
import { badRequest, notFound, parseObject, sendJson, SimError, usd, type JsonObject } from './http.js';

/** A route of this file, shaped as the simulator's own table's (routes.ts), whose real dialect's table holds them. */
export interface RunRoute {
  readonly method: string;
  readonly path: string | RegExp;
  readonly scope: string | null;
  readonly manage?: boolean;
  readonly handler: (call: Call) => void;
}

export interface RunModel {
  readonly id: string;
  readonly type: 'image' | 'tts' | 'video' | 'text';
  readonly vendor: string;
  /** Catalog pricing (reference §3.2 `/api/catalog`): per request, or per million tokens. */
  readonly pricing:
    | { readonly unit: 'request'; readonly per_request_usd: number }
    | { readonly unit: 'token'; readonly prompt: number; readonly completion: number; readonly per_1m_input_usd: number; readonly per_1m_output_usd: number };
  /** What a run really costs, in micro-dollars, when it is not its list price (the image's). */
  readonly costMicros?: number;
}

export const RUN_MODELS: readonly RunModel[] = Object.freeze([
  { id: 'replicate/black-forest-labs/flux-schnell', type: 'image', vendor: 'replicate', pricing: { unit: 'request', per_request_usd: 0.04 }, costMicros: 37_000 },
  { id: 'elevenlabs/eleven-multilingual-v2', type: 'tts', vendor: 'elevenlabs', pricing: { unit: 'request', per_request_usd: 0.02 } },
  { id: 'minimax/video-01', type: 'video', vendor: 'minimax', pricing: { unit: 'request', per_request_usd: 0.5 }, costMicros: 450_000 },
  {
    id: 'deepseek/deepseek-chat',
    type: 'text',
    vendor: 'deepseek',
    pricing: { unit: 'token', prompt: 0.27, completion: 1.1, per_1m_input_usd: 0.27, per_1m_output_usd: 1.1 },
  },
]);

const CREATED = 1_735_689_600;

/** What the real service's `type` (and `category`) says of each kind of run model (reference §3.1 `types=`). */
const REAL_TYPE: Record<RunModel['type'], string> = { image: 'image', tts: 'tts', video: 'video', text: 'chat' };

/** The run models as the real `GET /v1/models` lists them (`{id, type, category, vendor, …}`, no prices), for a simulator started with `services: true`. */
export function runListEntries(): Record<string, unknown>[] {
  return RUN_MODELS.map((m) => ({
    id: m.id,
    type: REAL_TYPE[m.type],
    category: REAL_TYPE[m.type],
    vendor: m.vendor,
    display_name: m.id,
    name: m.id,
    description: `Simulated ${m.id}`,
    created: CREATED,
  }));
}

/** A run model's real `GET /v1/models/{id}` answer: its entry with its catalog `pricing`; undefined for another id. */
export function runModelDetail(id: string): Record<string, unknown> | undefined {
  const m = byId.get(id);
  if (!m) return undefined;
  const entry = runListEntries().find((e) => e.id === id)!;
  const pricing =
    m.pricing.unit === 'request'
      ? m.pricing
      : { unit: 'token', per_1m_input_usd: m.pricing.per_1m_input_usd, per_1m_output_usd: m.pricing.per_1m_output_usd };
  return { model: { ...entry, pricing, request_doc: 'POST /v1/run' } };
}

const byId = new Map(RUN_MODELS.map((m) => [m.id, m]));

function priceMicros(m: RunModel): number {
  if (m.costMicros !== undefined) return m.costMicros;
  return m.pricing.unit === 'request' ? Math.round(m.pricing.per_request_usd * 1e6) : 0;
}

/** The audio a TTS run answers: a few chunks of not-really-MP3. */
export const AUDIO_CHUNKS: readonly Buffer[] = Object.freeze([0, 1, 2, 3].map((i) => Buffer.alloc(4096, 0x41 + i)));

/** TTS runs with `inputs.hold: true` wait here after their first chunk, until the test releases them. */
const held = new Set<() => void>();

/** Lets every held TTS answer finish (tests: the first bytes reached the client before the rest was sent). */
export function releaseHeldAudio(): number {
  const n = held.size;
  for (const go of [...held]) go();
  return n;
}

interface Job {
  readonly id: string;
  readonly owner: string;
  readonly model: RunModel;
  polls: number;
  readonly pollsUntilDone: number;
  readonly fail: boolean;
  /** The completed answer carries a large inline result (over the sidecar's 64 KiB scan threshold). */
  readonly big: boolean;
  charged: boolean;
}

interface Remembered {
  status: number;
  body: string;
  contentType: string;
  at: number;
}

/** Per simulator: its jobs and the answers remembered per (key, Idempotency-Key). */
interface RunState {
  jobs: Map<string, Job>;
  idem: Map<string, Remembered>;
  seq: number;
}
const states = new WeakMap<object, RunState>();
function stateOf(call: Call): RunState {
  let s = states.get(call.ctx);
  if (!s) states.set(call.ctx, (s = { jobs: new Map(), idem: new Map(), seq: 0 }));
  return s;
}

const IDEM_MS = 24 * 60 * 60 * 1000;

/**
 * A retry with an Idempotency-Key already answered for this key within 24 h
 * gets the same answer, charged nothing (reference §6); true when answered.
 */
function replayed(call: Call, s: RunState): string | null {
  const k = call.req.headers['idempotency-key'];
  if (typeof k !== 'string' || k === '') return null;
  const id = createHash('sha256').update(`${call.caller.key.id}\n${k}`).digest('hex');
  const hit = s.idem.get(id);
  if (hit && call.ctx.clock() - hit.at < IDEM_MS) {
    call.res.writeHead(hit.status, { 'content-type': hit.contentType, 'content-length': Buffer.byteLength(hit.body), 'idempotent-replayed': 'true' });
    call.res.end(hit.body);
    return '';
  }
  return id;
}

function remember(s: RunState, id: string | null, call: Call, status: number, body: unknown, contentType = 'application/json'): void {
  if (id) s.idem.set(id, { status, body: typeof body === 'string' ? body : JSON.stringify(body), contentType, at: call.ctx.clock() });
}

function charge(call: Call, micros: number): number {
  call.ctx.state.checkSpend(call.caller.key, micros);
  call.ctx.state.charge(call.caller.key, micros);
  return usd(call.ctx.state.balanceMicros);
}

function modelOf(b: JsonObject): RunModel {
  if (typeof b.model !== 'string' || b.model === '') throw badRequest('model must be a non-empty string such as "replicate/black-forest-labs/flux-schnell"', 'invalid_model');
  const m = byId.get(b.model);
  if (!m) throw new SimError(404, 'invalid_request_error', 'model_not_found', `The model '${b.model}' does not exist or you do not have access to it`);
  return m;
}

function inputsOf(b: JsonObject): JsonObject {
  const i = b.inputs ?? {};
  if (!i || typeof i !== 'object' || Array.isArray(i)) throw badRequest('inputs must be an object', 'invalid_inputs');
  return i as JsonObject;
}

export function handleRun(call: Call): void {
  const s = stateOf(call);
  const b = parseObject(call.body);
  const m = modelOf(b);
  const inputs = inputsOf(b);
  const idem = replayed(call, s);
  if (idem === '') return;
  runModel(call, s, m, inputs, b.stream === true, idem);
}

function runModel(call: Call, s: RunState, m: RunModel, inputs: JsonObject, stream: boolean, idem: string | null): void {
  const { res } = call;
  switch (m.type) {
    case 'image': {
      const balance = charge(call, priceMicros(m));
      const body = { image_url: `https://cdn.example/sim/${++s.seq}.png`, cost_usd: usd(priceMicros(m)), wallet_balance_after_usd: balance };
      remember(s, idem, call, 200, body);
      sendJson(res, 200, body);
      return;
    }
    case 'tts': {
      charge(call, priceMicros(m));
      remember(s, idem, call, 200, Buffer.concat(AUDIO_CHUNKS).toString('latin1'), 'audio/mpeg');
      sendAudio(call, inputs.hold === true);
      return;
    }
    case 'video': {
      call.ctx.state.checkSpend(call.caller.key, priceMicros(m));
      const polls = typeof inputs.polls === 'number' && Number.isInteger(inputs.polls) && inputs.polls >= 0 && inputs.polls <= 100 ? inputs.polls : 2;
      const id = `job_${createHash('sha256').update(`${call.caller.key.id}${++s.seq}${call.ctx.clock()}`).digest('hex').slice(0, 20)}`;
      s.jobs.set(id, { id, owner: call.caller.key.id, model: m, polls: 0, pollsUntilDone: polls, fail: inputs.fail === true, big: inputs.big === true, charged: false });
      // `inputs.poll_base`: an absolute poll_url at that base (its own origin, or another), as a real answer may carry.
      const pollUrl = typeof inputs.poll_base === 'string' ? `${inputs.poll_base}/job/${id}` : `/v1/job/${id}`;
      const body = { status: 'accepted', job_id: id, poll_url: pollUrl, model: m.id };
      remember(s, idem, call, 202, body);
      sendJson(res, 202, body);
      return;
    }
    case 'text': {
      if (m.pricing.unit !== 'token') throw new SimError(500, 'api_error', 'server_error', 'text model priced per request');
      const text = typeof inputs.prompt === 'string' ? inputs.prompt : JSON.stringify(inputs);
      const promptTokens = Math.max(1, Math.ceil(Buffer.byteLength(text) / 4));
      const reply = 'Sure. Here is the answer you asked for.';
      const completionTokens = 9;
      const micros = Math.ceil(promptTokens * m.pricing.prompt + completionTokens * m.pricing.completion);
      const balance = charge(call, micros);
      const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
      if (stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        for (const word of reply.split(' ')) res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: `${word} ` } }] })}\n\n`);
        res.write(`data: ${JSON.stringify({ choices: [], usage, cost_usd: usd(micros) })}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      }
      // `inputs.big`: a long answer (over the sidecar's 64 KiB scan threshold) that reports its cost beside its usage.
      const content = inputs.big === true ? `${reply} ${'la '.repeat(40_000)}` : reply;
      const body = {
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage,
        model: m.id,
        wallet_balance_after_usd: balance,
        ...(inputs.big === true ? { cost_usd: usd(micros) } : {}),
      };
      remember(s, idem, call, 200, body);
      sendJson(res, 200, body);
      return;
    }
  }
}

/** Binary audio, chunked (no length, no cost): the first chunk at once, the rest after a turn (or once released). */
function sendAudio(call: Call, hold: boolean): void {
  const { res, ctx } = call;
  res.writeHead(200, { 'content-type': 'audio/mpeg', 'transfer-encoding': 'chunked' });
  res.write(AUDIO_CHUNKS[0]);
  const rest = (): void => {
    ctx.active.delete(stop);
    held.delete(rest);
    if (res.destroyed) return;
    for (const c of AUDIO_CHUNKS.slice(1)) res.write(c);
    res.end();
  };
  const stop = (): void => {
    held.delete(rest);
    res.destroy();
  };
  ctx.active.add(stop);
  if (hold) held.add(rest);
  else setImmediate(rest);
}

export function handleJob(call: Call): void {
  const s = stateOf(call);
  const job = s.jobs.get(call.params[0] ?? '');
  if (!job || job.owner !== call.caller.key.id) throw notFound('Job not found', 'job_not_found');
  job.polls++;
  if (job.polls <= job.pollsUntilDone) {
    sendJson(call.res, 200, { status: 'processing', job_id: job.id, model: job.model.id });
    return;
  }
  if (job.fail) {
    sendJson(call.res, 200, { status: 'failed', job_id: job.id, model: job.model.id, error: { message: 'The vendor could not render this video' } });
    return;
  }
  // Charged once, when it completes; every later poll tells the same cost.
  if (!job.charged) {
    charge(call, priceMicros(job.model));
    job.charged = true;
  }
  sendJson(call.res, 200, { status: 'completed', job_id: job.id, model: job.model.id, result: { video_url: `https://cdn.example/sim/${job.id}.mp4`, ...(job.big ? { preview_base64: 'A'.repeat(100_000) } : {}) }, cost_usd: usd(priceMicros(job.model)) });
}

const PILOT_PICKS: Record<string, RunModel['type']> = { image: 'image', tts: 'tts', video: 'video', chat: 'text' };

/** The smart router: a model picked by `type`; the answer nested (`data.result`), the cost on top. */
export function handlePilot(call: Call): void {
  const s = stateOf(call);
  const b = parseObject(call.body);
  const type = typeof b.type === 'string' ? PILOT_PICKS[b.type] : undefined;
  if (!type) throw badRequest(`type must be one of ${Object.keys(PILOT_PICKS).join(', ')}`, 'invalid_type');
  const m = RUN_MODELS.find((x) => x.type === type)!;
  if (m.type !== 'image') throw badRequest('the simulator pilots image runs only', 'unsupported_type');
  const idem = replayed(call, s);
  if (idem === '') return;
  const balance = charge(call, priceMicros(m));
  const body = { model: m.id, data: { result: { image_url: `https://cdn.example/sim/${++s.seq}.png` } }, cost_usd: usd(priceMicros(m)), wallet_balance_after_usd: balance };
  remember(s, idem, call, 200, body);
  sendJson(call.res, 200, body);
}

export const RUN_ROUTES: readonly RunRoute[] = [
  { method: 'POST', path: '/v1/run', scope: 'services:use', handler: handleRun },
  { method: 'POST', path: '/v1/pilot', scope: 'services:use', handler: handlePilot },
  { method: 'GET', path: /^\/v1\/job\/([^/]+)$/, scope: 'services:use', handler: handleJob },
];
