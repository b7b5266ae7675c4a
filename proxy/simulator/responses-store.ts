/**
 * The Responses API routes around a stored response, which the OpenAI SDKs
 * call (`responses.retrieve`, `.delete`, `.cancel`, `.inputItems.list`).
 * Responses created without `store: false` are kept in memory, the newest
 * STORED_MAX per simulator.
 */
import type { Call, SimContext } from './context.js';
import { notFound, sendJson, type JsonObject } from './http.js';

const STORED_MAX = 200;

interface Stored {
  readonly response: JsonObject;
  readonly input: readonly JsonObject[];
}

const stores = new WeakMap<SimContext, Map<string, Stored>>();

function storeOf(ctx: SimContext): Map<string, Stored> {
  let m = stores.get(ctx);
  if (!m) stores.set(ctx, (m = new Map()));
  return m;
}

/** Input items as the API lists them: each with an id and a type. */
function inputItems(id: string, input: unknown): JsonObject[] {
  const raw = typeof input === 'string' ? [{ role: 'user', content: input }] : (input as unknown[]);
  return raw.map((it, i) => {
    const o = (it && typeof it === 'object' ? it : { content: String(it) }) as JsonObject;
    const content = typeof o.content === 'string' ? [{ type: 'input_text', text: o.content }] : o.content;
    return { id: `${id.replace('resp_', 'item_')}_${i}`, type: o.type ?? 'message', ...o, ...(content === undefined ? {} : { content }) };
  });
}

export function storeResponse(ctx: SimContext, response: JsonObject, input: unknown): void {
  const m = storeOf(ctx);
  const id = response.id as string;
  m.set(id, { response, input: inputItems(id, input) });
  if (m.size > STORED_MAX) m.delete(m.keys().next().value as string);
}

/** A stored response by id (what `previous_response_id` continues), or undefined. */
export function storedResponse(ctx: SimContext, id: string): JsonObject | undefined {
  return storeOf(ctx).get(id)?.response;
}

function stored(call: Call): Stored {
  const id = call.params[0] ?? '';
  const s = storeOf(call.ctx).get(id);
  if (!s) throw notFound(`No response with id '${id}' (responses created with store: false are not kept)`, 'response_not_found');
  return s;
}

export function handleGetResponse(call: Call): void {
  sendJson(call.res, 200, stored(call).response);
}

export function handleDeleteResponse(call: Call): void {
  const s = stored(call);
  storeOf(call.ctx).delete(s.response.id as string);
  sendJson(call.res, 200, { id: s.response.id, object: 'response', deleted: true });
}

/** Simulated responses finish at once, so there is never anything to cancel: the response as it is. */
export function handleCancelResponse(call: Call): void {
  sendJson(call.res, 200, stored(call).response);
}

export function handleInputItems(call: Call): void {
  const data = stored(call).input;
  sendJson(call.res, 200, { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: false });
}
