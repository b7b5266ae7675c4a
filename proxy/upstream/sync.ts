/**
 * Periodic sync with SkillBoss: models and prices, the account balance, and
 * whether the key is valid. Runs at start and on an interval; each run is
 * independent, so one failure never stops the next.
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/time.js';
import type { KeyHolder } from '../keychain/holder.js';
import type { PriceBook } from '../pricing/prices.js';
import { UpstreamCallError, upstreamJson } from './client.js';
import type { UpstreamState } from './status.js';

export interface SyncDeps {
  baseUrl: () => string;
  key: KeyHolder;
  prices: PriceBook;
  state: UpstreamState;
  clock: Clock;
  log: Logger;
}

export async function syncOnce(d: SyncDeps): Promise<void> {
  const now = d.clock();
  const ks = d.key.status();
  if (ks.state !== 'set') {
    d.state.update({ key: ks.state === 'missing' ? 'missing' : 'unavailable', checkedAt: now });
    return;
  }
  const key = d.key.current();
  try {
    const models = await upstreamJson<{ data?: unknown[] }>(d.baseUrl(), key, 'GET', '/models');
    const n = d.prices.syncFromUpstream(Array.isArray(models.data) ? models.data : [], now);
    d.state.update({ key: 'valid', reachable: true, modelsSyncedAt: now, modelCount: n, lastError: null, checkedAt: now });
  } catch (err) {
    record(d, err, now);
    return;
  }
  try {
    const bal = await upstreamJson<{ balance?: unknown }>(d.baseUrl(), key, 'GET', '/balance');
    const usd = typeof bal.balance === 'number' ? bal.balance : Number(bal.balance);
    if (Number.isFinite(usd)) d.state.update({ balanceUsd: usd, balanceSyncedAt: now, credits: usd > 0 ? 'ok' : 'out' });
  } catch (err) {
    // A key without billing:read cannot see the balance; that is not a failure of the key.
    if (!(err instanceof UpstreamCallError && err.status === 403)) record(d, err, now);
  }
}

function record(d: SyncDeps, err: unknown, now: number): void {
  const e = err instanceof UpstreamCallError ? err : new UpstreamCallError(String(err), null);
  if (e.status === 401) d.state.update({ key: 'invalid', reachable: true, lastError: e.message, checkedAt: now });
  else if (e.status === 402) d.state.update({ credits: 'out', reachable: true, lastError: e.message, checkedAt: now });
  else if (e.status === null) d.state.update({ reachable: false, lastError: e.message, checkedAt: now });
  else d.state.update({ reachable: true, lastError: e.message, checkedAt: now });
  d.log.warn({ status: e.status, reason: e.message }, 'upstream sync failed');
}
