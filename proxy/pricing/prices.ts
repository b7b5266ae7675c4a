/**
 * Model prices in USD per million tokens, from the upstream's `GET /v1/models`
 * (either a single `cost` or separate `pricing.prompt`/`pricing.completion`),
 * with local overrides that win. An unknown model is priced by a configurable
 * default and flagged, never free.
 *
 * Token classes inside those counts have rates of their own when SkillBoss
 * lists them (`pricing.cached_prompt`, `pricing.cache_write`,
 * `pricing.reasoning`, or OpenRouter-style names). A missing class rate falls
 * back to the plain one (cached and cache-write tokens at the prompt rate,
 * reasoning at the completion rate), shown as `fallback` in `price list`:
 * never cheaper than what is known, never free.
 *
 * A price per million tokens in USD is exactly micro-dollars per token, so
 * cost = tokens × price, rounded up.
 */
import type { DB } from '../db/database.js';
import { bumpGeneration, getSetting, setSetting } from '../db/records.js';
import { runPriceOf, type RunPrice } from './run-prices.js';

export type RateSource = 'upstream' | 'override' | 'default' | 'fallback';

export interface ClassRates {
  /** Cached prompt tokens (read from the upstream's prompt cache). */
  cached: number;
  /** Prompt tokens written to the cache. */
  cacheWrite: number;
  /** Completion tokens spent reasoning. */
  reasoning: number;
  classSource: { cached: RateSource; cacheWrite: RateSource; reasoning: RateSource };
}

export interface Price extends ClassRates {
  prompt: number;
  completion: number;
  source: 'upstream' | 'override' | 'default';
  /** For a synced price: which SkillBoss answer gave it. */
  origin?: PriceOrigin | null;
  /** USD per call, where SkillBoss lists one. */
  perRequest?: number | null;
}

/** The classes a usage report splits its counts into (each part of prompt or completion tokens). */
export interface TokenClasses {
  cached?: number;
  cacheWrite?: number;
  reasoning?: number;
}

export const DEFAULT_UNKNOWN_PRICE = { prompt: 15, completion: 75 } as const;
/** What a per-call route (images, audio, services) costs when the upstream reports nothing: USD. */
export const DEFAULT_CALL_PRICE_USD = 0.05;

/** A row of the `models` table: the upstream's prices and the human's overrides, USD per million tokens. */
export interface ModelRow {
  id: string;
  prompt_price: number | null;
  completion_price: number | null;
  override_prompt: number | null;
  override_completion: number | null;
  cached_price: number | null;
  cache_write_price: number | null;
  reasoning_price: number | null;
  override_cached: number | null;
  override_cache_write: number | null;
  override_reasoning: number | null;
  synced_at: number | null;
  price_source: PriceOrigin | null;
  request_price: number | null;
  detail_synced_at: number | null;
}

type ClassPrices = { cached?: number | null; cacheWrite?: number | null; reasoning?: number | null };

function num(v: unknown): number | null {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : null;
}

/** A token price read from the upstream (USD per million), with a per-request price where it lists one. */
export type ParsedPrice = { prompt: number; completion: number; perRequest?: number | null } & ClassPrices;

/**
 * Reads the price out of one upstream model entry: the seed's `cost` and
 * `pricing.prompt/completion`, OpenAI-style `input/output`, and the real
 * catalog's `per_1m_input_usd` / `per_1m_output_usd` (on the entry or in its
 * `pricing`). A `per_request_usd` alone (unit `request`) is a per-call price
 * with no token price: kept, but it does not price tokens.
 */
export function parseUpstreamPrice(entry: Record<string, unknown>): ParsedPrice | null {
  const single = num(entry.cost);
  const p = entry.pricing;
  const pr = p && typeof p === 'object' ? (p as Record<string, unknown>) : {};
  const catIn = num(pr.per_1m_input_usd ?? entry.per_1m_input_usd ?? pr.input_per_1m ?? pr.input_per_million);
  const catOut = num(pr.per_1m_output_usd ?? entry.per_1m_output_usd ?? pr.output_per_1m ?? pr.output_per_million);
  const perRequest = num(pr.per_request_usd ?? entry.per_request_usd);
  if (catIn !== null || catOut !== null) return { prompt: catIn ?? catOut ?? 0, completion: catOut ?? catIn ?? 0, perRequest };
  const classes: ClassPrices = {
    cached: num(pr.cached_prompt ?? pr.cached_input ?? pr.input_cache_read ?? pr.cache_read ?? entry.cached_cost),
    cacheWrite: num(pr.cache_write ?? pr.input_cache_write ?? pr.cache_creation),
    reasoning: num(pr.reasoning ?? pr.internal_reasoning),
  };
  // A split price is the more precise of the two when an entry carries both.
  const prompt = num(pr.prompt ?? pr.input);
  const completion = num(pr.completion ?? pr.output);
  if (prompt !== null || completion !== null) return { prompt: prompt ?? completion ?? 0, completion: completion ?? prompt ?? 0, ...classes, perRequest };
  if (single !== null) return { prompt: single, completion: single, ...classes, perRequest };
  // A per-call price only: no token price, which the caller learns from NaN-free nulls below.
  return perRequest !== null ? { prompt: Number.NaN, completion: Number.NaN, perRequest } : null;
}

/** Where a synced price came from, as `price list` shows it. */
export type PriceOrigin = 'models list' | 'model detail';

/** One model as a sync found it: its list entry, and a price if the list or its detail gave one. */
export interface SyncedModel {
  id: string;
  entry: Record<string, unknown>;
  /** null: nothing new was learnt this time, so the last known price (if any) is kept. */
  price: ParsedPrice | null;
  origin: PriceOrigin | null;
  /** Set when the detail was fetched this time (cached until then). */
  detailAt?: number | null;
}

/** Class rates for a plain price: each listed one, else the documented fallback. */
export function withClasses(plain: { prompt: number; completion: number }, listed: ClassPrices, source: RateSource): ClassRates {
  const pick = (v: number | null | undefined, fb: number): [number, RateSource] => (v === null || v === undefined ? [fb, 'fallback'] : [v, source]);
  const [cached, cs] = pick(listed.cached, plain.prompt);
  const [cacheWrite, ws] = pick(listed.cacheWrite, plain.prompt);
  const [reasoning, rs] = pick(listed.reasoning, plain.completion);
  return { cached, cacheWrite, reasoning, classSource: { cached: cs, cacheWrite: ws, reasoning: rs } };
}

/** Prices are held to a millionth of a dollar per million tokens (pico-dollars per token). */
const SCALE = 1_000_000;

/**
 * ceil(prompt × promptPrice + completion × completionPrice) in exact integer
 * arithmetic: in floating point 599 × 0.1 + 7 × 0.3 comes out a hair above 62
 * and would charge 63. Beyond 2^53 (a worst case of billions of tokens) BigInt
 * keeps it exact.
 */
export function costMicros(price: { prompt: number; completion: number }, promptTokens: number, completionTokens: number): number {
  return sumMicros([
    [promptTokens, price.prompt],
    [completionTokens, price.completion],
  ]);
}

/** ceil(Σ tokens × USD-per-million) over (tokens, price) pairs, exactly. */
function sumMicros(parts: ReadonlyArray<readonly [number, number]>): number {
  let scaled = 0;
  for (const [n, price] of parts) scaled += n * Math.round(price * SCALE);
  if (Number.isSafeInteger(scaled)) {
    const rem = scaled % SCALE;
    return (scaled - rem) / SCALE + (rem > 0 ? 1 : 0);
  }
  let big = 0n;
  for (const [n, price] of parts) big += BigInt(n) * BigInt(Math.round(price * SCALE));
  const S = BigInt(SCALE);
  return Number(big / S + (big % S > 0n ? 1n : 0n));
}

/**
 * What `promptTokens` + `completionTokens` cost when `classes` says which of
 * them were cached, written to the cache or spent reasoning: each class at its
 * own rate, the rest at the plain rates. Class counts are clamped to the total
 * they belong to. Without `classes` (a worst case, or counts the upstream did
 * not split) every token is priced at the dearest rate it could have.
 */
export function classCostMicros(price: Price, promptTokens: number, completionTokens: number, classes?: TokenClasses): number {
  if (!classes) {
    return sumMicros([
      [promptTokens, Math.max(price.prompt, price.cached, price.cacheWrite)],
      [completionTokens, Math.max(price.completion, price.reasoning)],
    ]);
  }
  const cached = Math.min(classes.cached ?? 0, promptTokens);
  const cacheWrite = Math.min(classes.cacheWrite ?? 0, promptTokens - cached);
  const reasoning = Math.min(classes.reasoning ?? 0, completionTokens);
  return sumMicros([
    [promptTokens - cached - cacheWrite, price.prompt],
    [cached, price.cached],
    [cacheWrite, price.cacheWrite],
    [completionTokens - reasoning, price.completion],
    [reasoning, price.reasoning],
  ]);
}

/**
 * The most completion tokens a model may produce, from its synced entry, under the names listings use
 * (OpenAI-style `max_output_tokens`/`max_completion_tokens`, OpenRouter's `top_provider`, `limits`); null: unknown.
 */
export function outputLimitOf(entry: Record<string, unknown>): number | null {
  const sub = (k: string) => (entry[k] && typeof entry[k] === 'object' ? (entry[k] as Record<string, unknown>) : {});
  for (const v of [entry.max_output_tokens, entry.max_completion_tokens, entry.output_token_limit, sub('top_provider').max_completion_tokens, sub('limits').max_output_tokens, sub('limits').output]) {
    if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
  }
  return null;
}

/**
 * The most input tokens a model takes (its context window), under the names listings use (`context_length`,
 * `context_window`, `max_input_tokens`, OpenRouter's `top_provider`, `limits`); null: unknown. Issue 25: the
 * prompt bound of a request whose earlier items the upstream holds and the sidecar cannot see.
 */
export function contextLimitOf(entry: Record<string, unknown>): number | null {
  const sub = (k: string) => (entry[k] && typeof entry[k] === 'object' ? (entry[k] as Record<string, unknown>) : {});
  for (const v of [entry.context_length, entry.context_window, entry.max_input_tokens, entry.input_token_limit, sub('top_provider').context_length, sub('limits').context, sub('limits').max_input_tokens]) {
    if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
  }
  return null;
}

function limitsOfRaw(raw: string): { output: number | null; context: number | null } {
  try {
    const entry: unknown = JSON.parse(raw);
    return entry && typeof entry === 'object' ? { output: outputLimitOf(entry as Record<string, unknown>), context: contextLimitOf(entry as Record<string, unknown>) } : { output: null, context: null };
  } catch {
    return { output: null, context: null };
  }
}

export class PriceBook {
  private prices = new Map<string, Price>();
  private limits = new Map<string, number>();
  private contexts = new Map<string, number>();
  private fallback: Price = { ...DEFAULT_UNKNOWN_PRICE, ...withClasses(DEFAULT_UNKNOWN_PRICE, {}, 'default'), source: 'default' };
  private callPrice = Math.round(DEFAULT_CALL_PRICE_USD * 1_000_000);

  constructor(private readonly db: DB) {
    this.reload();
  }

  reload(): void {
    const d = getSetting<{ prompt: number; completion: number }>(this.db, 'default_price') ?? DEFAULT_UNKNOWN_PRICE;
    this.fallback = { prompt: d.prompt, completion: d.completion, ...withClasses(d, {}, 'default'), source: 'default' };
    const next = new Map<string, Price>();
    const limits = new Map<string, number>();
    const contexts = new Map<string, number>();
    for (const r of this.db.prepare('SELECT * FROM models').all() as Array<ModelRow & { raw?: string | null }>) {
      const l = r.raw ? limitsOfRaw(r.raw) : null;
      if (l?.output != null) limits.set(r.id, l.output);
      if (l?.context != null) contexts.set(r.id, l.context);
      if (r.override_prompt !== null || r.override_completion !== null) {
        const plain = { prompt: r.override_prompt ?? r.prompt_price ?? this.fallback.prompt, completion: r.override_completion ?? r.completion_price ?? this.fallback.completion };
        // An override's class rates are its own: ones it leaves out fall back to its plain rates, not to the synced ones.
        const listed = { cached: r.override_cached, cacheWrite: r.override_cache_write, reasoning: r.override_reasoning };
        next.set(r.id, { ...plain, ...withClasses(plain, listed, 'override'), source: 'override' });
      } else if (r.prompt_price !== null || r.completion_price !== null) {
        const plain = { prompt: r.prompt_price ?? 0, completion: r.completion_price ?? 0 };
        const listed = { cached: r.cached_price, cacheWrite: r.cache_write_price, reasoning: r.reasoning_price };
        next.set(r.id, { ...plain, ...withClasses(plain, listed, 'upstream'), source: 'upstream', origin: r.price_source ?? null, perRequest: r.request_price ?? null });
      }
    }
    this.prices = next;
    this.limits = limits;
    this.contexts = contexts;
    const call = getSetting<number>(this.db, 'default_call_price');
    this.callPrice = Math.round((typeof call === 'number' && call >= 0 ? call : DEFAULT_CALL_PRICE_USD) * 1_000_000);
  }

  priceFor(model: string | undefined): Price {
    return (model !== undefined && this.prices.get(model)) || this.fallback;
  }

  /**
   * Cost in micro-dollars, rounded up so metering never under-charges. With
   * `classes`, each token class at its own rate; without, the dearest rate a
   * token could have (the reservation's worst case).
   */
  cost(model: string | undefined, promptTokens: number, completionTokens: number, classes?: TokenClasses): { micros: number; source: Price['source'] } {
    const p = this.priceFor(model);
    return { micros: classCostMicros(p, promptTokens, completionTokens, classes), source: p.source };
  }

  /** The model's output limit as its synced entry gives it (issue 25: the bound a request without one is sent with); null: not listed. */
  outputLimit(model: string | undefined): number | null {
    return (model !== undefined && this.limits.get(model)) || null;
  }

  /** The model's context window as its synced entry gives it (issue 25); null: not listed. */
  contextLimit(model: string | undefined): number | null {
    return (model !== undefined && this.contexts.get(model)) || null;
  }

  known(model: string): boolean {
    return this.prices.has(model);
  }

  list(): Array<{ id: string } & Price> {
    return [...this.prices.entries()].map(([id, p]) => ({ id, ...p })).sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Records a sync: every model listed, with the price it came with. A model
   * this sync learnt no price for keeps its last known one (a detail that
   * failed, or one cached from an earlier sync). Overrides are kept. Returns
   * how many models.
   */
  recordSync(models: readonly SyncedModel[], now: number): number {
    const withPrice = this.db.prepare(`INSERT INTO models (id, prompt_price, completion_price, cached_price, cache_write_price, reasoning_price, request_price, price_source, raw, synced_at, detail_synced_at)
      VALUES (@id, @prompt, @completion, @cached, @cacheWrite, @reasoning, @perRequest, @origin, @raw, @now, @detailAt)
      ON CONFLICT(id) DO UPDATE SET prompt_price = excluded.prompt_price, completion_price = excluded.completion_price, cached_price = excluded.cached_price,
        cache_write_price = excluded.cache_write_price, reasoning_price = excluded.reasoning_price, request_price = excluded.request_price,
        price_source = excluded.price_source, raw = excluded.raw, synced_at = excluded.synced_at,
        detail_synced_at = coalesce(excluded.detail_synced_at, models.detail_synced_at)`);
    const keepPrice = this.db.prepare(`INSERT INTO models (id, raw, synced_at, detail_synced_at) VALUES (@id, @raw, @now, @detailAt)
      ON CONFLICT(id) DO UPDATE SET raw = excluded.raw, synced_at = excluded.synced_at, detail_synced_at = coalesce(excluded.detail_synced_at, models.detail_synced_at)`);
    this.db.transaction(() => {
      for (const m of models) {
        const base = { id: m.id, raw: JSON.stringify(m.entry).slice(0, 16_384), now, detailAt: m.detailAt ?? null };
        const p = m.price;
        if (!p) {
          keepPrice.run(base);
          continue;
        }
        const tokens = Number.isFinite(p.prompt);
        withPrice.run({
          ...base,
          prompt: tokens ? p.prompt : null,
          completion: tokens ? p.completion : null,
          cached: p.cached ?? null,
          cacheWrite: p.cacheWrite ?? null,
          reasoning: p.reasoning ?? null,
          perRequest: p.perRequest ?? null,
          origin: m.origin,
        });
      }
      bumpGeneration(this.db, 'prices');
    })();
    this.reload();
    return models.length;
  }

  /** A seed-shaped `data` list recorded as it is (tests, and callers that hold one). */
  syncFromUpstream(data: unknown[], now: number): number {
    const models: SyncedModel[] = [];
    for (const e of data) {
      if (!e || typeof e !== 'object' || typeof (e as { id?: unknown }).id !== 'string') continue;
      const entry = e as Record<string, unknown>;
      const price = parseUpstreamPrice(entry);
      models.push({ id: entry.id as string, entry, price, origin: price ? 'models list' : null });
    }
    return this.recordSync(models, now);
  }

  /** When each model's detail was last fetched (the sync's cache). */
  detailFetchedAt(): Map<string, number> {
    const rows = this.db.prepare('SELECT id, detail_synced_at FROM models WHERE detail_synced_at IS NOT NULL').all() as Array<{ id: string; detail_synced_at: number }>;
    return new Map(rows.map((r) => [r.id, r.detail_synced_at]));
  }

  /** A local price for `model` (null prompt and completion drop it); class rates left out fall back as documented. */
  setOverride(model: string, prompt: number | null, completion: number | null, classes: ClassPrices = {}): void {
    const off = prompt === null && completion === null;
    this.db
      .prepare(`INSERT INTO models (id, override_prompt, override_completion, override_cached, override_cache_write, override_reasoning) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET override_prompt = excluded.override_prompt, override_completion = excluded.override_completion,
          override_cached = excluded.override_cached, override_cache_write = excluded.override_cache_write, override_reasoning = excluded.override_reasoning`)
      .run(model, prompt, completion, off ? null : (classes.cached ?? null), off ? null : (classes.cacheWrite ?? null), off ? null : (classes.reasoning ?? null));
    bumpGeneration(this.db, 'prices');
    this.reload();
  }

  /** A `/v1/run` model's unit and per-request price as last synced (run-prices.ts). */
  runPrice(model: string | undefined): RunPrice {
    return runPriceOf(this.db, model);
  }

  /** The default call price in micro-dollars (setting `default_call_price`, USD). */
  callPriceMicros(): number {
    return this.callPrice;
  }

  setDefaultCall(usd: number): void {
    setSetting(this.db, 'default_call_price', usd);
    bumpGeneration(this.db, 'prices');
    this.reload();
  }

  setDefault(price: { prompt: number; completion: number }): void {
    setSetting(this.db, 'default_price', price);
    bumpGeneration(this.db, 'prices');
    this.reload();
  }
}
