/**
 * What a SkillBoss `/v1/run` model costs per request (issue 24), from what
 * the last sync stored of it: the catalog's `pricing.unit` (`request`,
 * `token`, `unknown`) and `pricing.per_request_usd` (reference §3.2, §5), as
 * the model's listed entry carries them (`models.raw`), or the synced
 * per-request column where the sync keeps one (`request_price`). A model
 * priced per token is reserved like chat (pipeline/meters.ts); one with no
 * price at all reserves the default call price, flagged.
 */
import type { DB } from '../db/database.js';

export interface RunPrice {
  unit: 'request' | 'token' | 'unknown';
  /** USD per request in micro-dollars, where SkillBoss lists one. */
  perRequestMicros: number | null;
}

const UNKNOWN: RunPrice = { unit: 'unknown', perRequestMicros: null };
const statements = new WeakMap<DB, { get(id: string): unknown }>();

function num(v: unknown): number | null {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : null;
}

/** The per-request price of `model` as last synced; unit `unknown` and no price when nothing is known. */
export function runPriceOf(db: DB, model: string | undefined): RunPrice {
  if (model === undefined) return UNKNOWN;
  let q = statements.get(db);
  if (!q) statements.set(db, (q = db.prepare('SELECT * FROM models WHERE id = ?')));
  const row = q.get(model) as { raw?: string | null; request_price?: number | null; prompt_price?: number | null; override_prompt?: number | null } | undefined;
  if (!row) return UNKNOWN;
  let pricing: Record<string, unknown> = {};
  let entry: Record<string, unknown> = {};
  try {
    const parsed: unknown = row.raw ? JSON.parse(row.raw) : null;
    if (parsed && typeof parsed === 'object') entry = parsed as Record<string, unknown>;
    if (entry.pricing && typeof entry.pricing === 'object') pricing = entry.pricing as Record<string, unknown>;
  } catch {
    /* an unreadable entry prices nothing */
  }
  const usd = num(row.request_price) ?? num(pricing.per_request_usd ?? entry.per_request_usd);
  const perRequestMicros = usd === null ? null : Math.ceil(usd * 1_000_000 - 1e-6);
  const unitField = pricing.unit ?? entry.unit;
  const tokenPriced = row.prompt_price != null || row.override_prompt != null;
  const unit = unitField === 'request' || unitField === 'token' ? unitField : perRequestMicros !== null ? 'request' : tokenPriced ? 'token' : 'unknown';
  return { unit, perRequestMicros };
}
