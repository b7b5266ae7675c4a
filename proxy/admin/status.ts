/**
 * `/admin/api/status`: the overview in one call — the upstream (key, credits,
 * balance, last sync), spend this month against the sum of budgets, access
 * requests waiting, and the alerts a human should act on.
 * `POST /admin/api/pause {paused}`: the kill switch for every agent call.
 */
import { Router } from 'express';
import * as z from 'zod';
import { formatUsd, usdToMicros } from '../core/money.js';
import { DAY_MS, periodOf, periodResetAt } from '../core/time.js';
import { VERSION } from '../core/version.js';
import { recentTurnedAway } from '../access/flood.js';
import { actorOf } from './auth.js';
import type { AdminContext } from './context.js';
import { parseInput } from './validate.js';
import type { TokenView } from './views.js';
import type { Alert, Status } from '../../wire/admin.js';
import { capabilitiesAt, capabilityLines } from '../upstream/capabilities.js';
import { fallbackChargedSince, unpricedModels } from '../pricing/fallback.js';

const periodStart = (now: number): number => Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const pauseBody = z.strictObject({ paused: z.boolean({ message: 'expected true or false' }) });

/** Open requests waiting for the human (0 while the database cannot say, so the overview still loads). */
function pendingAccess(ctx: AdminContext): number {
  try {
    return ctx.access.listPending().length;
  } catch {
    return 0;
  }
}

export function statusRouter(ctx: AdminContext): Router {
  const r = Router();
  const { deps, db } = ctx;
  const webhookFailures = db.prepare(
    "SELECT token_id, max(ts) AS ts, count(*) AS n FROM audit WHERE ts >= ? AND event LIKE 'webhook%' AND event LIKE '%fail%' GROUP BY token_id",
  );

  r.get('/status', (_req, res) => {
    const now = deps.clock();
    const key = deps.key.status();
    const up = deps.upstreamState.get();
    const caps = capabilitiesAt(db, deps.upstream().baseUrl);
    const views = ctx.views.build(deps.tokens.list(), now);
    const roots = views.filter((v) => v.parent_id === null && v.status === 'active');
    // Spend is charged to a token and every ancestor, so the roots' spend is the machine's total.
    const spent = views.filter((v) => v.parent_id === null).reduce((a, v) => a + v.spent_usd, 0);
    const budgets = roots.reduce((a, v) => a + (v.monthly_budget_usd ?? 0), 0);
    const pending = pendingAccess(ctx);
    const alerts = alertsFor(ctx, views, now, webhookFailures.all(now - 7 * DAY_MS) as Array<{ token_id: string | null; ts: number; n: number }>);
    if (pending > 0) alerts.unshift({ kind: 'access_pending', severity: 'warning', message: `${pending} access request${pending === 1 ? ' is' : 's are'} waiting for your answer.` });
    const away = recentTurnedAway(ctx.db, now);
    if (away) {
      alerts.unshift({
        kind: 'access_flood',
        severity: 'error',
        message: `${away.count} agent${away.count === 1 ? ' was' : 's were'} turned away in the last minutes because the queue of access requests is full. If you do not recognise the waiting requests, clear them (Access, or \`skillboss-sidecar requests clear\`).`,
      });
    }
    res.json({
      version: VERSION,
      started_at: new Date(ctx.startedAt).toISOString(),
      uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000),
      url: `http://127.0.0.1:${ctx.port}`,
      // Which daemon this is, so `skillboss-sidecar status|doctor` can name the one they describe.
      daemon: { pid: process.pid, data_dir: ctx.dataDir, demo: ctx.demo },
      paused: ctx.paused(),
      key: { state: key.state, masked: key.state === 'set' ? key.masked : null, store: deps.key.store.kind, reason: key.state === 'unavailable' ? key.reason : null },
      upstream: {
        url: deps.upstream().baseUrl,
        key: up.key,
        credits: up.credits,
        reachable: up.reachable,
        balance_usd: up.balanceUsd,
        balance_synced_at: iso(up.balanceSyncedAt),
        models_synced_at: iso(up.modelsSyncedAt),
        model_count: up.modelCount,
        priced_count: up.pricedCount,
        models_shape: up.modelsShape,
        balance_source: up.balanceSource,
        balance_credits: up.balanceCredits,
        capabilities: { rotation: caps.rotation, child_keys: caps.childKeys, sub_wallets: caps.subWallets },
        last_error: up.lastError,
        checked_at: iso(up.checkedAt),
      },
      period: periodOf(now),
      period_resets_at: new Date(periodResetAt(now)).toISOString(),
      spend: {
        this_period_usd: Math.round(spent * 1e6) / 1e6,
        budgets_usd: Math.round(budgets * 1e6) / 1e6,
        unbudgeted_roots: roots.filter((v) => v.monthly_budget_usd === null).length,
      },
      tokens: {
        active: views.filter((v) => v.status === 'active').length,
        total: views.length,
      },
      access_requests: { pending },
      alerts,
    } satisfies Status);
  });

  // The CLI's writes that have no route of their own go to the database; this applies them before the command returns.
  r.post('/refresh', (_req, res) => {
    ctx.refresh();
    res.json({ ok: true });
  });

  // `doctor` asks the daemon to check its upstream and key now, with the key only the daemon holds.
  r.post('/sync', async (_req, res) => {
    await ctx.sync();
    const up = deps.upstreamState.get();
    res.json({ url: deps.upstream().baseUrl, key: up.key, credits: up.credits, reachable: up.reachable, last_error: up.lastError, checked_at: iso(up.checkedAt) });
  });

  r.post('/pause', (req, res) => {
    const b = parseInput(pauseBody, req.body);
    const changed = ctx.killSwitch.set(b.paused, { actor: actorOf(req), now: deps.clock() });
    // The daemon's flag follows through its Watcher (onLocalChange) before the next request is read.
    res.json({ paused: ctx.killSwitch.isSet(), changed });
  });

  return r;
}

function alertsFor(ctx: AdminContext, views: TokenView[], now: number, webhooks: Array<{ token_id: string | null; ts: number; n: number }>): Alert[] {
  const out: Alert[] = [];
  const key = ctx.deps.key.status();
  const up = ctx.deps.upstreamState.get();
  if (ctx.paused()) out.push({ kind: 'paused', severity: 'warning', message: 'All agents are paused: every agent call gets 503 until you resume.' });
  if (key.state === 'missing') out.push({ kind: 'key_missing', severity: 'error', message: 'No SkillBoss API key is set. Agents get 503 until you set one in Settings.' });
  else if (key.state === 'unavailable') out.push({ kind: 'key_unavailable', severity: 'error', message: `The OS keychain cannot be read: ${key.reason}` });
  else if (up.key === 'invalid') out.push({ kind: 'key_invalid', severity: 'error', message: 'SkillBoss rejected the API key (401). Replace it in Settings.' });
  if (up.credits === 'out') out.push({ kind: 'credits_out', severity: 'error', message: 'The SkillBoss account is out of credits; agents get 402 until it is topped up.' });
  if (up.reachable === false) out.push({ kind: 'upstream_unreachable', severity: 'warning', message: `SkillBoss could not be reached at the last check${up.lastError ? ` (${up.lastError})` : ''}.` });
  // What the sidecar could not learn from SkillBoss, or what SkillBoss itself warned of (issue 23).
  for (const n of up.notices ?? []) out.push({ kind: n.kind === 'capability' ? 'capability' : 'upstream_notice', severity: n.kind === 'models_shape' ? 'error' : 'warning', message: n.message });
  const said = new Set((up.notices ?? []).map((n) => n.message));
  for (const line of capabilityLines(capabilitiesAt(ctx.db, ctx.deps.upstream().baseUrl))) {
    if (![...said].some((m) => m.startsWith(line))) out.push({ kind: 'capability', severity: 'warning', message: line });
  }
  const unpriced = unpricedModels(ctx.db);
  const charged = fallbackChargedSince(ctx.db, periodStart(now));
  const fallback = [...new Set([...unpriced, ...charged.models])];
  if (fallback.length > 0) {
    out.push({
      kind: 'fallback_priced',
      severity: 'warning',
      message: `${fallback.length} model${fallback.length === 1 ? ' is' : 's are'} charged at the fallback price (${fallback.slice(0, 5).join(', ')}${fallback.length > 5 ? ', …' : ''}): SkillBoss did not price ${fallback.length === 1 ? 'it' : 'them'}. Set a price in Settings (or \`skillboss-sidecar price set\`), or wait for the sync.`,
    });
  }
  for (const v of views) {
    if (v.status !== 'active') continue;
    if (v.hold) out.push({ kind: 'spend_hold', severity: 'error', token_id: v.id, message: `${v.name} is on hold for your approval (${v.hold.reason}); its calls get 402 until you approve it on the Tokens page.` });
    if (v.monthly_budget_usd !== null && v.monthly_budget_usd >= 0) {
      const per = v.budget_period === 'total' ? 'prepaid' : v.budget_period === 'day' ? 'daily' : `${v.budget_period}ly`;
      const until = v.budget_period === 'total' ? 'until you top it up' : `until the ${v.budget_period} ends or you raise it`;
      const ratio = v.monthly_budget_usd === 0 ? 1 : v.spent_usd / v.monthly_budget_usd;
      if (ratio >= 1) out.push({ kind: 'budget_100', severity: 'error', token_id: v.id, message: `${v.name} has used its whole ${per} budget (${formatUsd(usdToMicros(v.monthly_budget_usd))}); its calls get 402 ${until}.` });
      else if (ratio >= 0.8) out.push({ kind: 'budget_80', severity: 'warning', token_id: v.id, message: `${v.name} has used ${Math.floor(ratio * 100)}% of its ${per} budget (${formatUsd(usdToMicros(v.spent_usd))} of ${formatUsd(usdToMicros(v.monthly_budget_usd))}).` });
    }
    if (v.expires_at !== null && Date.parse(v.expires_at) - now < 7 * DAY_MS) {
      out.push({ kind: 'expiring', severity: 'warning', token_id: v.id, message: `${v.name} expires ${v.expires_at.slice(0, 10)}.` });
    }
  }
  const names = new Map(views.map((v) => [v.id, v.name]));
  for (const w of webhooks) {
    const who = w.token_id ? (names.get(w.token_id) ?? w.token_id) : 'a token';
    out.push({ kind: 'webhook_failed', severity: 'warning', ...(w.token_id ? { token_id: w.token_id } : {}), message: `${w.n} rotation webhook deliver${w.n === 1 ? 'y' : 'ies'} for ${who} failed in the last 7 days (last ${new Date(w.ts).toISOString().slice(0, 16).replace('T', ' ')} UTC).` });
  }
  return out;
}
