/**
 * Reading SkillBoss's model list in either shape it comes in, and its prices
 * in whichever form it gives them:
 *
 *   seed  `{data:[{id, cost, pricing:{prompt, completion}}]}`
 *   real  `{models:[{id | model_id, type, vendor, …}], count, available_types}`
 *         with prices only per model, `GET /v1/models/{id}` → `{model:{pricing:{…}}}`
 *         (key names not documented; the catalog's are per_1m_input_usd,
 *         per_1m_output_usd, per_request_usd and unit)
 *
 * Anything else is an unrecognised shape: reported with what it held, never
 * read as "0 models".
 */
import { parseUpstreamPrice, type ParsedPrice } from '../pricing/prices.js';

export interface ListedModel {
  id: string;
  entry: Record<string, unknown>;
  /** The price the list itself carries, if any. */
  price: ParsedPrice | null;
}

export type ModelList = { ok: true; shape: 'data' | 'models'; models: ListedModel[] } | { ok: false; problem: string };

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function idOf(e: Record<string, unknown>): string | null {
  const id = typeof e.id === 'string' ? e.id : typeof e.model_id === 'string' ? e.model_id : null;
  // Ids are model names such as bedrock/claude-4-5-sonnet or replicate/<org>/<model>: printable, bounded.
  return id !== null && /^[\x21-\x7e]{1,200}$/.test(id) ? id : null;
}

/** The models a `GET /v1/models` body lists, in either shape (both at once are merged, `data` first). */
export function readModelList(body: unknown): ModelList {
  if (!isObj(body)) return { ok: false, problem: `GET /v1/models answered ${Array.isArray(body) ? 'a bare array' : typeof body}, not an object with a \`data\` or \`models\` list` };
  const lists: Array<['data' | 'models', unknown[]]> = [];
  if (Array.isArray(body.data)) lists.push(['data', body.data]);
  if (Array.isArray(body.models)) lists.push(['models', body.models]);
  if (lists.length === 0) {
    const keys = Object.keys(body).slice(0, 8).map((k) => k.slice(0, 40));
    return { ok: false, problem: `GET /v1/models answered an object with ${keys.length ? `the keys ${keys.join(', ')}` : 'no keys'} but neither a \`data\` nor a \`models\` list` };
  }
  const seen = new Map<string, ListedModel>();
  let entries = 0;
  for (const [, list] of lists) {
    for (const e of list) {
      entries++;
      if (!isObj(e)) continue;
      const id = idOf(e);
      if (id === null || seen.has(id)) continue;
      seen.set(id, { id, entry: e, price: parseUpstreamPrice(e) });
    }
  }
  if (seen.size === 0 && entries > 0) {
    return { ok: false, problem: `GET /v1/models listed ${entries} entr${entries === 1 ? 'y' : 'ies'}, none with an \`id\` or \`model_id\`` };
  }
  return { ok: true, shape: lists[0]![0], models: [...seen.values()] };
}

/** The price in a `GET /v1/models/{id}` answer: `{model:{pricing}}`, or the model object itself. */
export function readModelDetail(body: unknown): ParsedPrice | null {
  if (!isObj(body)) return null;
  const m = isObj(body.model) ? body.model : isObj(body.data) ? body.data : body;
  return parseUpstreamPrice(m);
}

/** The path of a model's detail: each segment of the id encoded, the slashes kept (replicate/<org>/<model>). */
export function detailPath(id: string): string {
  return `/models/${id.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * Runs `task` over `items` with at most `concurrency` at a time and starts
 * spaced at least `1000 / perSecond` ms apart (SkillBoss publishes no rate
 * limit; a sync must never be what trips one).
 */
export async function paced<T>(items: readonly T[], task: (item: T) => Promise<void>, o: { concurrency: number; perSecond: number }): Promise<void> {
  const gap = 1000 / o.perSecond;
  let next = 0;
  let nextStart = Date.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      const wait = nextStart - Date.now();
      nextStart = Math.max(nextStart, Date.now()) + gap;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await task(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, items.length) }, worker));
}

/**
 * A model list cut to what a token may use (issue 24, item 4): every list the answer has (`data`,
 * `models`) keeps only the entries `allows` lets through, `count` and `available_types` follow.
 * Returns how many were shown and how many there were.
 */
export function filterModelList(obj: Record<string, unknown>, allows: (id: string) => boolean): { shown: number; total: number } {
  let shown = 0;
  let total = 0;
  for (const key of ['data', 'models'] as const) {
    const list = obj[key];
    if (!Array.isArray(list)) continue;
    const kept = list.filter((e) => {
      const id = isObj(e) ? idOf(e) : null;
      return id !== null && allows(id);
    });
    // Both lists hold the same models when both are there (AGENT_ANSWERS copies one into the other).
    shown = Math.max(shown, kept.length);
    total = Math.max(total, list.length);
    obj[key] = kept;
  }
  if (typeof obj.count === 'number') obj.count = shown;
  if (isObj(obj.available_types) && Array.isArray(obj.models)) {
    const types: Record<string, number> = {};
    for (const m of obj.models) if (isObj(m) && typeof m.type === 'string') types[m.type] = (types[m.type] ?? 0) + 1;
    obj.available_types = types;
  }
  return { shown, total };
}

/**
 * The real service's model answers in the shape OpenAI clients read, with
 * SkillBoss's own fields kept: a `{models:[…]}` list gains `object: 'list'`
 * and `data` (each entry an OpenAI model object), a `{model:{…}}` detail is
 * unwrapped to the model object with `id` and `object`. The seed's answers
 * already have that shape and are left alone. Returns whether it changed.
 */
export const AGENT_ANSWERS: Record<'model-list' | 'model-detail', (obj: Record<string, unknown>) => boolean> = {
  'model-list': (obj) => {
    if (Array.isArray(obj.data) || !Array.isArray(obj.models)) return false;
    obj.object ??= 'list';
    obj.data = obj.models.filter(isObj).map((m) => {
      const id = idOf(m);
      return { ...m, id, object: 'model', created: typeof m.created === 'number' ? m.created : 0, owned_by: typeof m.vendor === 'string' ? m.vendor : typeof m.owned_by === 'string' ? m.owned_by : 'skillboss' };
    });
    return true;
  },
  'model-detail': (obj) => {
    if (typeof obj.id === 'string' || !isObj(obj.model)) return false;
    const m = obj.model;
    for (const k of Object.keys(obj)) delete obj[k];
    Object.assign(obj, m, { id: idOf(m) ?? m.name ?? null, object: 'model', created: typeof m.created === 'number' ? m.created : 0, owned_by: typeof m.vendor === 'string' ? m.vendor : 'skillboss' });
    return true;
  },
};
