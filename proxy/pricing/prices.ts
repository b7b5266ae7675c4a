/**
 * Model prices in USD per million tokens, from the upstream's `GET /v1/models`
 * (either a single `cost` or separate `pricing.prompt`/`pricing.completion`),
 * with local overrides that win. An unknown model is priced by a configurable
 * default and flagged, never free.
 *
 * A price per million tokens in USD is exactly micro-dollars per token, so
 * cost = tokens × price, rounded up.
 */
import type { DB } from '../db/database.js';
import { bumpGeneration, getSetting, setSetting } from '../db/records.js';

export interface Price {
  prompt: number;
  completion: number;
  source: 'upstream' | 'override' | 'default';
}

export const DEFAULT_UNKNOWN_PRICE = { prompt: 15, completion: 75 } as const;
/** What a per-call route (images, audio, services) costs when the upstream reports nothing: USD. */
export const DEFAULT_CALL_PRICE_USD = 0.05;

interface ModelRow {
  id: string;
  prompt_price: number | null;
  completion_price: number | null;
  override_prompt: number | null;
  override_completion: number | null;
  synced_at: number | null;
}

function num(v: unknown): number | null {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : null;
}

/** Reads the price out of one upstream model entry. */
export function parseUpstreamPrice(entry: Record<string, unknown>): { prompt: number; completion: number } | null {
  // A split price is the more precise of the two when an entry carries both.
  const p = entry.pricing;
  if (p && typeof p === 'object') {
    const pr = p as Record<string, unknown>;
    const prompt = num(pr.prompt ?? pr.input);
    const completion = num(pr.completion ?? pr.output);
    if (prompt !== null || completion !== null) return { prompt: prompt ?? completion ?? 0, completion: completion ?? prompt ?? 0 };
  }
  const single = num(entry.cost);
  return single === null ? null : { prompt: single, completion: single };
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
  const ps = Math.round(price.prompt * SCALE);
  const cs = Math.round(price.completion * SCALE);
  const scaled = promptTokens * ps + completionTokens * cs;
  if (Number.isSafeInteger(scaled)) {
    const rem = scaled % SCALE;
    return (scaled - rem) / SCALE + (rem > 0 ? 1 : 0);
  }
  const big = BigInt(promptTokens) * BigInt(ps) + BigInt(completionTokens) * BigInt(cs);
  const S = BigInt(SCALE);
  return Number(big / S + (big % S > 0n ? 1n : 0n));
}

export class PriceBook {
  private prices = new Map<string, Price>();
  private fallback: Price = { ...DEFAULT_UNKNOWN_PRICE, source: 'default' };
  private callPrice = Math.round(DEFAULT_CALL_PRICE_USD * 1_000_000);

  constructor(private readonly db: DB) {
    this.reload();
  }

  reload(): void {
    const next = new Map<string, Price>();
    for (const r of this.db.prepare('SELECT * FROM models').all() as ModelRow[]) {
      if (r.override_prompt !== null || r.override_completion !== null) {
        next.set(r.id, {
          prompt: r.override_prompt ?? r.prompt_price ?? this.fallback.prompt,
          completion: r.override_completion ?? r.completion_price ?? this.fallback.completion,
          source: 'override',
        });
      } else if (r.prompt_price !== null || r.completion_price !== null) {
        next.set(r.id, { prompt: r.prompt_price ?? 0, completion: r.completion_price ?? 0, source: 'upstream' });
      }
    }
    const d = getSetting<{ prompt: number; completion: number }>(this.db, 'default_price');
    this.fallback = { ...(d ?? DEFAULT_UNKNOWN_PRICE), source: 'default' };
    this.prices = next;
    const call = getSetting<number>(this.db, 'default_call_price');
    this.callPrice = Math.round((typeof call === 'number' && call >= 0 ? call : DEFAULT_CALL_PRICE_USD) * 1_000_000);
  }

  priceFor(model: string | undefined): Price {
    return (model !== undefined && this.prices.get(model)) || this.fallback;
  }

  /** Cost in micro-dollars, rounded up so metering never under-charges. */
  cost(model: string | undefined, promptTokens: number, completionTokens: number): { micros: number; source: Price['source'] } {
    const p = this.priceFor(model);
    return { micros: costMicros(p, promptTokens, completionTokens), source: p.source };
  }

  known(model: string): boolean {
    return this.prices.has(model);
  }

  list(): Array<{ id: string } & Price> {
    return [...this.prices.entries()].map(([id, p]) => ({ id, ...p })).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Replaces upstream prices with a fresh `GET /v1/models` listing; overrides are kept. Returns how many models. */
  syncFromUpstream(data: unknown[], now: number): number {
    const upsert = this.db.prepare(`INSERT INTO models (id, prompt_price, completion_price, raw, synced_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET prompt_price = excluded.prompt_price, completion_price = excluded.completion_price, raw = excluded.raw, synced_at = excluded.synced_at`);
    let n = 0;
    this.db.transaction(() => {
      for (const e of data) {
        if (!e || typeof e !== 'object' || typeof (e as { id?: unknown }).id !== 'string') continue;
        const entry = e as Record<string, unknown>;
        const price = parseUpstreamPrice(entry);
        upsert.run(entry.id as string, price?.prompt ?? null, price?.completion ?? null, JSON.stringify(entry), now);
        n++;
      }
      bumpGeneration(this.db, 'prices');
    })();
    this.reload();
    return n;
  }

  setOverride(model: string, prompt: number | null, completion: number | null): void {
    this.db
      .prepare(`INSERT INTO models (id, override_prompt, override_completion) VALUES (?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET override_prompt = excluded.override_prompt, override_completion = excluded.override_completion`)
      .run(model, prompt, completion);
    bumpGeneration(this.db, 'prices');
    this.reload();
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
