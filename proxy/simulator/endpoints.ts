/** Models, embeddings, moderations, images, audio and non-LLM services. */
import { createHash } from 'node:crypto';
import { countInputTokens } from '../pricing/tokenizer.js';
import { costHeaders, modelNotFound, nextSeq, nowSeconds, requireModel, usageOf, type Call } from './context.js';
import { checkSpend } from './spend.js';
import { badRequest, notFound, optPositiveInt, parseObject, sendJson, sendRaw, type JsonObject } from './http.js';
import { injected } from './real.js';
import { costMicros, findModel, listEntry, MODELS_LIST_JSON } from './models.js';

export const IMAGE_COST_MICROS = 40_000;
export const SPEECH_COST_MICROS = 15_000;
export const SERVICE_COST_MICROS = 1_000;
export const EMBEDDING_DIMENSIONS = 8;

export function handleListModels(call: Call): void {
  sendRaw(call.res, 200, MODELS_LIST_JSON, 'application/json');
}

export function handleGetModel(call: Call): void {
  const id = call.params[0] ?? '';
  const m = findModel(id);
  if (!m) throw modelNotFound(id);
  sendJson(call.res, 200, listEntry(m));
}

/** Largest `dimensions` an embedding request may ask for (text-embedding-3-large's size). */
export const MAX_EMBEDDING_DIMENSIONS = 3072;

/**
 * `dimensions` deterministic unit-length float32 values (8 by default) from
 * SHA-256 of the text, extended with SHA-256 of (text, block number) when more
 * than eight are asked for; the first eight are the same whatever the size.
 */
export function embeddingOf(text: string, dimensions = EMBEDDING_DIMENSIONS): Float32Array {
  const v = new Float32Array(dimensions);
  let norm = 0;
  for (let block = 0; block * 8 < dimensions; block++) {
    const h = createHash('sha256').update(text);
    if (block > 0) h.update(`\u0000${block}`);
    const d = h.digest();
    for (let i = 0; i < 8 && block * 8 + i < dimensions; i++) {
      const x = d.readUInt32LE(i * 4) / 0xffffffff - 0.5;
      v[block * 8 + i] = x;
      norm += x * x;
    }
  }
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < dimensions; i++) v[i] = (v[i] as number) / norm;
  return v;
}

function embeddingBase64(v: Float32Array): string {
  const buf = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i] as number, i * 4);
  return buf.toString('base64');
}

export function handleEmbeddings(call: Call): void {
  const { ctx } = call;
  const b = parseObject(call.body);
  const model = requireModel(b).id;
  const input = b.input;
  let items: unknown[];
  if (typeof input === 'string') items = [input];
  else if (Array.isArray(input) && input.length > 0) items = input.every((x) => typeof x === 'number') ? [input] : input;
  else throw badRequest('input must be a non-empty string or array', 'invalid_input');
  for (const it of items) {
    const ok = typeof it === 'string' || (Array.isArray(it) && it.every((x) => typeof x === 'number'));
    if (!ok || (typeof it === 'string' && it === '')) throw badRequest('input items must be non-empty strings or token arrays', 'invalid_input');
  }
  const format = b.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') throw badRequest('encoding_format must be "float" or "base64"', 'invalid_value');
  const dimensions = optPositiveInt(b, 'dimensions', MAX_EMBEDDING_DIMENSIONS) ?? EMBEDDING_DIMENSIONS;
  const promptTokens = countInputTokens(input);
  const cost = costMicros(model, promptTokens, 0);
  checkSpend(call, cost);
  ctx.state.charge(call.caller.key, cost);
  const data = items.map((it, index) => {
    const v = embeddingOf(typeof it === 'string' ? it : JSON.stringify(it), dimensions);
    return { object: 'embedding', index, embedding: format === 'base64' ? embeddingBase64(v) : Array.from(v) };
  });
  const body: JsonObject = { object: 'list', data, model };
  const u = usageOf(ctx, { prompt_tokens: promptTokens, total_tokens: promptTokens }, cost);
  if (u) body.usage = u;
  Object.assign(body, injected(ctx));
  sendJson(call.res, 200, body, costHeaders(ctx, cost));
}

export function handleModerations(call: Call): void {
  const b = parseObject(call.body);
  const input = b.input;
  if (typeof input !== 'string' && !Array.isArray(input)) throw badRequest('input must be a string or an array', 'invalid_input');
  const count = typeof input === 'string' ? 1 : Math.max(1, input.length);
  const results = [];
  for (let i = 0; i < count; i++) results.push({ flagged: false, categories: {}, category_scores: {} });
  const model = typeof b.model === 'string' ? b.model : 'omni-moderation-latest';
  sendJson(call.res, 200, { id: `modr-sim-${nextSeq(call.ctx)}`, model, results });
}

export function handleImages(call: Call): void {
  const { ctx } = call;
  const b = parseObject(call.body);
  if (typeof b.prompt !== 'string' || b.prompt === '') throw badRequest('prompt must be a non-empty string', 'invalid_prompt');
  const n = optPositiveInt(b, 'n', 10) ?? 1;
  // Billed per image, and a large or high-quality image as two (as SkillBoss prices image models).
  const large = typeof b.size === 'string' && b.size !== '1024x1024' && b.size !== '512x512' && b.size !== '256x256';
  const fine = b.quality === 'hd' || b.quality === 'high';
  const cost = IMAGE_COST_MICROS * n * (large ? 2 : 1) * (fine ? 2 : 1);
  checkSpend(call, cost);
  ctx.state.charge(call.caller.key, cost);
  const data = [];
  for (let i = 0; i < n; i++) data.push({ url: 'https://example.invalid/sim.png' });
  sendJson(call.res, 200, { created: nowSeconds(ctx), data }, costHeaders(ctx, cost));
}

/** An MPEG frame header followed by padding: enough to look like audio/mpeg. */
const SPEECH_BYTES = Buffer.from([0xff, 0xfb, 0x90, 0x64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

export function handleSpeech(call: Call): void {
  const { ctx } = call;
  const b = parseObject(call.body);
  if (typeof b.input !== 'string' || b.input === '') throw badRequest('input must be a non-empty string', 'invalid_input');
  checkSpend(call, SPEECH_COST_MICROS);
  ctx.state.charge(call.caller.key, SPEECH_COST_MICROS);
  sendRaw(call.res, 200, SPEECH_BYTES, 'audio/mpeg', costHeaders(ctx, SPEECH_COST_MICROS));
}

const SERVICES = [
  { id: 'email', object: 'service', name: 'Email', description: 'Send transactional email', cost: SERVICE_COST_MICROS / 1e6 },
  { id: 'stripe', object: 'service', name: 'Stripe', description: 'Create payments with Stripe', cost: SERVICE_COST_MICROS / 1e6 },
];
const SERVICES_JSON = JSON.stringify({ object: 'list', data: SERVICES });

export function handleListServices(call: Call): void {
  sendRaw(call.res, 200, SERVICES_JSON, 'application/json');
}

export function handleService(call: Call): void {
  const { ctx } = call;
  const name = call.params[0] ?? '';
  if (!SERVICES.some((s) => s.id === name)) throw notFound(`Unknown service '${name}'`, 'service_not_found');
  const b = parseObject(call.body, true);
  checkSpend(call, SERVICE_COST_MICROS);
  ctx.state.charge(call.caller.key, SERVICE_COST_MICROS);
  const n = nextSeq(ctx);
  const result =
    name === 'email'
      ? { message_id: `msg_sim_${n}`, status: 'queued', to: b.to ?? null }
      : { id: `pi_sim_${n}`, status: 'succeeded', amount: b.amount ?? null, currency: b.currency ?? 'usd' };
  sendJson(call.res, 200, { ok: true, service: name, result }, costHeaders(ctx, SERVICE_COST_MICROS));
}
