/**
 * Periodic sync with SkillBoss: models and prices, the account balance, and
 * whether the key is valid. Runs at start and on an interval; each run is
 * independent, so one failure never stops the next.
 *
 * `GET /v1/models` is the validity probe: its 401 is the only one that marks
 * the key invalid (other routes may refuse a valid key, e.g. wholesale-only
 * ones). The list comes in either shape (models.ts); a model it does not price
 * is looked up at `GET /v1/models/{id}`, a few at a time and a few per second,
 * and cached between syncs; a lookup that fails keeps the last known price.
 * What the sync could not learn becomes a notice, never a silent zero.
 */
import type { Logger } from 'pino';
import { DAY_MS, type Clock } from '../core/time.js';
import type { KeyHolder } from '../keychain/holder.js';
import type { PriceBook, SyncedModel } from '../pricing/prices.js';
import { findBalance } from './balance.js';
import { UpstreamCallError, upstreamJson } from './client.js';
import { detailPath, paced, readModelDetail, readModelList } from './models.js';
import type { UpstreamState } from './status.js';

export interface SyncOptions {
  /** Model details fetched at once. */
  detailConcurrency: number;
  /** Model details started per second, at most. */
  detailPerSecond: number;
  /** A model's detail is asked again after this long (ms). */
  detailTtlMs: number;
}

export const DEFAULT_SYNC_OPTIONS: SyncOptions = { detailConcurrency: 3, detailPerSecond: 4, detailTtlMs: 6 * 60 * 60_000 };

export interface SyncDeps {
  baseUrl: () => string;
  /** The control-plane host (balance endpoints outside /v1). */
  controlPlane: () => string;
  key: KeyHolder;
  prices: PriceBook;
  state: UpstreamState;
  clock: Clock;
  log: Logger;
  options?: Partial<SyncOptions>;
}

export async function syncOnce(d: SyncDeps): Promise<void> {
  const now = d.clock();
  const ks = d.key.status();
  if (ks.state !== 'set') {
    d.state.update({ key: ks.state === 'missing' ? 'missing' : 'unavailable', checkedAt: now });
    return;
  }
  const key = d.key.current();
  const o = { ...DEFAULT_SYNC_OPTIONS, ...d.options };
  let body: unknown;
  try {
    body = await upstreamJson<unknown>(d.baseUrl(), key, 'GET', '/models');
    d.state.update({ key: 'valid', reachable: true, lastError: null, checkedAt: now });
  } catch (err) {
    record(d, err, now);
    return;
  }
  await syncModels(d, key, body, now, o);
  await syncBalance(d, key, now);
}

async function syncModels(d: SyncDeps, key: string, body: unknown, now: number, o: SyncOptions): Promise<void> {
  const list = readModelList(body);
  if (!list.ok) {
    const message = `${list.problem}. The sidecar cannot learn models or prices from it, so every call is charged the fallback price (see \`skillboss-sidecar price list\`); set prices with \`price set\`, or check --upstream.`;
    d.state.notice({ key: 'models_shape', kind: 'models_shape', message }, now);
    d.log.warn({ problem: list.problem }, 'SkillBoss answered GET /v1/models in a shape the sidecar does not recognise');
    return;
  }
  d.state.clearNotices('models_shape');
  const fetched = d.prices.detailFetchedAt();
  const models: SyncedModel[] = list.models.map((m) => ({ id: m.id, entry: m.entry, price: m.price, origin: m.price ? 'models list' : null }));
  // A list entry without a token price (none, or a per-call price only) is looked up, unless it was lately.
  const needDetail = models.filter((m) => (!m.price || !Number.isFinite(m.price.prompt)) && now - (fetched.get(m.id) ?? -Infinity) >= o.detailTtlMs);
  let failed = 0;
  await paced(
    needDetail,
    async (m) => {
      try {
        const price = readModelDetail(await upstreamJson<unknown>(d.baseUrl(), key, 'GET', detailPath(m.id)));
        m.detailAt = now;
        if (price) {
          m.price = price;
          m.origin = 'model detail';
        }
      } catch (err) {
        // Its last known price stands; asked again at the next sync.
        failed++;
        d.log.debug({ model: m.id, status: (err as UpstreamCallError).status ?? null }, 'model detail failed');
      }
    },
    { concurrency: o.detailConcurrency, perSecond: o.detailPerSecond },
  );
  const n = d.prices.recordSync(models, now);
  const priced = models.filter((m) => d.prices.priceFor(m.id).source !== 'default').length;
  if (failed > 0) d.log.warn({ failed, of: needDetail.length }, 'some model details could not be fetched; their last known prices stay');
  d.state.update({ modelsSyncedAt: now, modelCount: n, pricedCount: priced, modelsShape: list.shape });
}

async function syncBalance(d: SyncDeps, key: string, now: number): Promise<void> {
  const found = await findBalance(d.baseUrl(), d.controlPlane(), key, d.state.get().balanceSource);
  if ('reasons' in found) {
    const message = `SkillBoss did not tell the account balance at any place the sidecar knows (${found.reasons.join('; ')}). The balance shows as unknown and the low-credit alert cannot fire: check it in the SkillBoss console, or set the control-plane host (--control-plane).`;
    d.state.notice({ key: 'balance_unknown', kind: 'balance_unknown', message }, now);
    return;
  }
  d.state.clearNotices('balance_unknown');
  // SkillBoss's own warning is news for a day; it says so again with the next answer if it still holds.
  const warned = d.state.get().notices.find((n) => n.key === 'balance_warning');
  if (warned && now - warned.at > DAY_MS) d.state.clearNotices('balance_warning');
  const patch = { balanceSource: found.source, balanceCredits: found.credits, balanceSyncedAt: now };
  if (found.usd !== null) d.state.update({ ...patch, balanceUsd: found.usd, credits: found.usd > 0 ? 'ok' : 'out' });
  else d.state.update({ ...patch, balanceUsd: null, credits: (found.credits ?? 0) > 0 ? 'ok' : 'out' });
}

/** The balance a call reported (`wallet_balance_after_usd`): fresher than any sync. */
export function noteBalanceAfterCall(state: UpstreamState, usd: number, now: number): void {
  state.update({ balanceUsd: usd, balanceSyncedAt: now, balanceSource: 'wallet_balance_after_usd', credits: usd > 0 ? 'ok' : 'out' });
}

function record(d: SyncDeps, err: unknown, now: number): void {
  const e = err instanceof UpstreamCallError ? err : new UpstreamCallError(String(err), null);
  if (e.status === 401) d.state.update({ key: 'invalid', reachable: true, lastError: e.message, checkedAt: now });
  else if (e.status === 402) d.state.update({ credits: 'out', reachable: true, lastError: e.message, checkedAt: now });
  else if (e.status === null) d.state.update({ reachable: false, lastError: e.message, checkedAt: now });
  else d.state.update({ reachable: true, lastError: e.message, checkedAt: now });
  d.log.warn({ status: e.status, reason: e.message }, 'upstream sync failed');
}
