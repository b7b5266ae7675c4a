/**
 * Prometheus metrics (prom-client), fed by the daemon's events: one 'request'
 * event per ledger row and one 'budget' event per threshold crossing. Nothing
 * here runs on the request path except a few counter increments in the event
 * listener; the gauges (budget remaining, upstream balance) are computed when
 * Prometheus scrapes.
 *
 * Labels are bounded: `token` is the public token id (tok_…, never a secret),
 * `route` is the route table's pattern, `model` is a model the price book
 * knows or "other" (an agent cannot mint label values by inventing models).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RequestEvent, SidecarEventMap } from '../core/events.js';
import type { DaemonServices } from '../pipeline/context.js';
import { ROUTES } from '../pipeline/routes.js';
import type { Token } from '../tokens/token.js';

const PREFIX = 'skillboss_sidecar_';
const FORWARDED_ROUTES = new Set(ROUTES.filter((r) => r.forward).map((r) => r.path));
const usd = (micros: number) => micros / 1_000_000;

/** True for a ledger row of a request that reached the upstream (refusals by the sidecar never do). */
function wentUpstream(ev: RequestEvent): boolean {
  if (!FORWARDED_ROUTES.has(ev.route)) return false;
  const code = ev.error_code;
  return code === null || code === 'client_closed' || (code.startsWith('upstream_') && code !== 'upstream_key_missing');
}

export type MetricsDeps = Pick<DaemonServices, 'events' | 'budgets' | 'tokens' | 'prices' | 'upstreamState' | 'clock' | 'log'>;

export class SidecarMetrics {
  readonly registry = new Registry();
  private readonly requests;
  private readonly upstreamLatency;
  private readonly spend;
  private readonly llmTokens;
  private readonly budgetRefusals;
  private readonly rateLimitRefusals;
  private readonly budgetAlerts;
  private readonly onRequest: (ev: RequestEvent) => void;
  private readonly onBudget: (...a: SidecarEventMap['budget']) => void;

  constructor(private readonly deps: MetricsDeps) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: `${PREFIX}requests_total`,
      help: 'Agent requests answered, by route, HTTP status and token (refusals included).',
      labelNames: ['route', 'status', 'token'] as const,
      registers,
    });
    this.upstreamLatency = new Histogram({
      name: `${PREFIX}upstream_request_duration_seconds`,
      help: 'Time from arrival to the last byte sent, for requests forwarded to SkillBoss (streams included).',
      labelNames: ['route'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.spend = new Counter({
      name: `${PREFIX}spend_dollars_total`,
      help: 'Metered cost of agent requests in USD, by token and model.',
      labelNames: ['token', 'model'] as const,
      registers,
    });
    this.llmTokens = new Counter({
      name: `${PREFIX}llm_tokens_total`,
      help: 'Prompt and completion tokens metered, by token and model.',
      labelNames: ['token', 'model', 'kind'] as const,
      registers,
    });
    this.budgetRefusals = new Counter({
      name: `${PREFIX}budget_refusals_total`,
      help: 'Requests refused with 402 because a budget (the token\'s or an ancestor\'s) could not cover them.',
      labelNames: ['token'] as const,
      registers,
    });
    this.rateLimitRefusals = new Counter({
      name: `${PREFIX}rate_limit_refusals_total`,
      help: 'Requests refused with 429, by token and reason (rate_limit_exceeded, concurrency_limit, upstream_rate_limited).',
      labelNames: ['token', 'reason'] as const,
      registers,
    });
    this.budgetAlerts = new Counter({
      name: `${PREFIX}budget_alerts_total`,
      help: 'Budget thresholds crossed (budget_80, budget_100), by token.',
      labelNames: ['token', 'kind'] as const,
      registers,
    });
    this.gauges(registers);
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });

    this.onRequest = (ev) => this.count(ev);
    this.onBudget = (ev) => this.budgetAlerts.inc({ token: ev.token_id, kind: ev.kind });
    deps.events.on('request', this.onRequest);
    deps.events.on('budget', this.onBudget);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for one scrape. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  close(): void {
    this.deps.events.off('request', this.onRequest);
    this.deps.events.off('budget', this.onBudget);
    this.registry.clear();
  }

  private count(ev: RequestEvent): void {
    const token = ev.token_id;
    this.requests.inc({ route: ev.route, status: String(ev.status), token });
    if (wentUpstream(ev)) this.upstreamLatency.observe({ route: ev.route }, ev.latency_ms / 1000);
    if (ev.status === 402 && ev.error_code === 'budget_exhausted') this.budgetRefusals.inc({ token });
    if (ev.status === 429) this.rateLimitRefusals.inc({ token, reason: ev.error_code ?? 'unknown' });
    if (ev.cost_micros > 0 || ev.prompt_tokens > 0 || ev.completion_tokens > 0) {
      const model = ev.model === null ? 'none' : this.deps.prices.known(ev.model) ? ev.model : 'other';
      if (ev.cost_micros > 0) this.spend.inc({ token, model }, usd(ev.cost_micros));
      if (ev.prompt_tokens > 0) this.llmTokens.inc({ token, model, kind: 'prompt' }, ev.prompt_tokens);
      if (ev.completion_tokens > 0) this.llmTokens.inc({ token, model, kind: 'completion' }, ev.completion_tokens);
      // Parts of the two above, priced at their own rates: a second long prompt shows up as cached.
      if (ev.cached_tokens) this.llmTokens.inc({ token, model, kind: 'cached' }, ev.cached_tokens);
      if (ev.cache_write_tokens) this.llmTokens.inc({ token, model, kind: 'cache_write' }, ev.cache_write_tokens);
      if (ev.reasoning_tokens) this.llmTokens.inc({ token, model, kind: 'reasoning' }, ev.reasoning_tokens);
    }
  }

  /** Gauges read from the token table, the budgets and the upstream status at scrape time. */
  private gauges(registers: Registry[]): void {
    const { deps } = this;
    const activeTokens = (): Token[] => {
      const now = deps.clock();
      return deps.tokens.list().filter((t) => t.revokedAt === null && (t.expiresAt === null || t.expiresAt > now));
    };
    new Gauge({
      name: `${PREFIX}token_info`,
      help: 'One series per active token, to join ids with names and parents.',
      labelNames: ['token', 'name', 'parent'] as const,
      registers,
      collect() {
        this.reset();
        for (const t of activeTokens()) this.set({ token: t.id, name: t.name, parent: t.parentId ?? '' }, 1);
      },
    });
    new Gauge({
      name: `${PREFIX}budget_remaining_dollars`,
      help: 'What a token can still spend this month: the tightest of its own and its ancestors\' budgets, less spend and open reservations. Tokens without any budget are absent.',
      labelNames: ['token'] as const,
      registers,
      collect() {
        this.reset();
        const all = activeTokens();
        const byId = new Map(all.map((t) => [t.id, t]));
        const now = deps.clock();
        for (const t of all) {
          const chain: Token[] = [];
          for (let cur: Token | undefined = t; cur; cur = cur.parentId ? byId.get(cur.parentId) : undefined) chain.push(cur);
          const r = deps.budgets.remaining(chain, now);
          if (r.remainingMicros !== null) this.set({ token: t.id }, usd(Math.max(0, r.remainingMicros)));
        }
      },
    });
    new Gauge({
      name: `${PREFIX}budget_dollars`,
      help: 'Each token\'s own monthly budget in USD (tokens without one are absent).',
      labelNames: ['token'] as const,
      registers,
      collect() {
        this.reset();
        for (const t of activeTokens()) if (t.budget !== null) this.set({ token: t.id }, usd(t.budget));
      },
    });
    new Gauge({
      name: `${PREFIX}period_spend_dollars`,
      help: 'Spend charged to each token (its own and its descendants\') in its current budget period (the month by default), USD.',
      labelNames: ['token'] as const,
      registers,
      collect() {
        this.reset();
        const now = deps.clock();
        for (const t of activeTokens()) this.set({ token: t.id }, usd(deps.budgets.periodSpent(t, now)));
      },
    });
    new Gauge({
      name: `${PREFIX}upstream_balance_dollars`,
      help: 'The SkillBoss account balance at the last sync, USD (absent until one succeeded).',
      registers,
      collect() {
        this.reset();
        const b = deps.upstreamState.get().balanceUsd;
        if (b !== null && Number.isFinite(b)) this.set(b);
      },
    });
    new Gauge({
      name: `${PREFIX}upstream_balance_synced_timestamp_seconds`,
      help: 'When the balance was last synced (Unix time).',
      registers,
      collect() {
        this.reset();
        const at = deps.upstreamState.get().balanceSyncedAt;
        if (at !== null) this.set(at / 1000);
      },
    });
    new Gauge({
      name: `${PREFIX}upstream_up`,
      help: '1 when the last contact with SkillBoss succeeded with a valid key, else 0.',
      registers,
      collect() {
        const s = deps.upstreamState.get();
        this.set(s.reachable === true && s.key === 'valid' ? 1 : 0);
      },
    });
  }
}
