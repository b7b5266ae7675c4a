/** Balance and key management: api-keys, create-child, revoke, rotate, auto-rotate. */
import type { Call } from './context.js';
import { badRequest, notFound, parseObject, sendJson, usd, type JsonObject } from './http.js';
import { ALL_SCOPES, DAY_MS, type KeyRecord } from './state.js';

const iso = (ms: number) => new Date(ms).toISOString();

function keyView(k: KeyRecord, withParent: boolean): JsonObject {
  const v: JsonObject = {
    id: k.id,
    object: 'api_key',
    api_key: k.secret,
    name: k.name,
    scopes: [...k.scopes],
    monthly_budget: k.budgetMicros === null ? null : usd(k.budgetMicros),
    expires_at: k.expiresAt === null ? null : iso(k.expiresAt),
    created_at: iso(k.createdAt),
  };
  if (withParent) v.parent_id = k.parent?.id ?? null;
  return v;
}

function scopesField(b: JsonObject): string[] {
  const s = b.scopes;
  if (!Array.isArray(s) || !s.every((x) => typeof x === 'string')) throw badRequest('scopes must be an array of scope names', 'invalid_scopes');
  const unknown = s.filter((x) => !(ALL_SCOPES as readonly string[]).includes(x));
  if (unknown.length > 0) throw badRequest(`Unknown scope ${unknown.join(', ')}; valid scopes: ${ALL_SCOPES.join(', ')}`, 'invalid_scopes');
  return s as string[];
}

function nameField(b: JsonObject, field: string): string {
  const v = b[field];
  if (typeof v !== 'string' || v.trim() === '' || v.length > 200) throw badRequest(`${field} must be a non-empty string`, 'invalid_name');
  return v;
}

/** A USD amount → micro-dollars; undefined/null → null unless required. */
function budgetField(b: JsonObject, field: string, required: boolean): number | null {
  const v = b[field];
  if ((v === undefined || v === null) && !required) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw badRequest(`${field} must be a non-negative number (USD)`, 'invalid_budget');
  return Math.round(v * 1_000_000);
}

function daysField(b: JsonObject, field: string): number | undefined {
  const v = b[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw badRequest(`${field} must be a positive number of days`, 'invalid_expiration');
  return v;
}

export function handleBalance(call: Call): void {
  const { state } = call.ctx;
  const k = call.caller.key;
  const body: JsonObject = {
    balance: usd(state.balanceMicros),
    balance_micros: state.balanceMicros,
    currency: 'USD',
    auto_recharge_enabled: false,
  };
  if (k !== state.admin) {
    const spent = state.spent(k);
    body.key_id = k.id;
    body.monthly_budget = k.budgetMicros === null ? null : usd(k.budgetMicros);
    body.spent = usd(spent);
    body.spent_micros = spent;
  }
  sendJson(call.res, 200, body);
}

export function handleCreateKey(call: Call): void {
  const b = parseObject(call.body);
  const input = { name: nameField(b, 'name'), scopes: scopesField(b), budgetMicros: budgetField(b, 'monthly_budget', false) };
  const days = daysField(b, 'expiration_days');
  const key = call.ctx.state.createChild(call.caller.key, days === undefined ? input : { ...input, expirationDays: days });
  sendJson(call.res, 200, keyView(key, false));
}

export function handleCreateChild(call: Call): void {
  const b = parseObject(call.body);
  const input = { name: nameField(b, 'child_name'), scopes: scopesField(b), budgetMicros: budgetField(b, 'child_budget', true) };
  const days = daysField(b, 'expiration_days');
  const key = call.ctx.state.createChild(call.caller.key, days === undefined ? input : { ...input, expirationDays: days });
  sendJson(call.res, 200, keyView(key, true));
}

export function handleRevoke(call: Call): void {
  const ref = call.params[0] ?? '';
  const target = call.ctx.state.find(ref);
  if (!target) throw notFound('No such key', 'key_not_found');
  call.ctx.state.revoke(call.caller.key, target);
  sendJson(call.res, 200, { revoked: true, id: target.id });
}

export function handleRotate(call: Call): void {
  parseObject(call.body, true);
  const key = call.caller.key;
  const { secret, oldExpiresAt } = call.ctx.state.rotate(key);
  sendJson(call.res, 200, { id: key.id, new_api_key: secret, old_key_expires_at: iso(oldExpiresAt) });
}

export function handleAutoRotate(call: Call): void {
  const b = parseObject(call.body);
  const interval = b.rotation_interval_days;
  if (typeof interval !== 'number' || !Number.isInteger(interval) || interval < 1 || interval > 3650) {
    throw badRequest('rotation_interval_days must be an integer between 1 and 3650', 'invalid_interval');
  }
  let webhook: string | null = null;
  if (b.webhook_url !== undefined && b.webhook_url !== null) {
    const ok = typeof b.webhook_url === 'string' && URL.canParse(b.webhook_url) && /^https?:/i.test(b.webhook_url);
    if (!ok) throw badRequest('webhook_url must be an http(s) URL', 'invalid_webhook_url');
    webhook = b.webhook_url as string;
  }
  const nextAt = call.ctx.clock() + interval * DAY_MS;
  call.caller.key.autoRotate = { intervalDays: interval, webhookUrl: webhook, nextAt };
  sendJson(call.res, 200, { enabled: true, rotation_interval_days: interval, next_rotation_at: iso(nextAt), webhook_url: webhook });
}
