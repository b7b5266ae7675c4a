/**
 * `/admin/api/settings` and `/admin/api/key`.
 *
 * Settings are stored in the settings table and applied to the running
 * daemon at once. The upstream key is write-only: it goes into the key store
 * (the OS keychain) and only `sk-…` plus its last four characters ever come
 * back out, here or anywhere.
 */
import { Router } from 'express';
import * as z from 'zod';
import { resolveUpstream, runtimeUpstreamRefusal } from '../core/config.js';
import { badRequest, forbidden, unavailable } from '../core/errors.js';
import { PROOF_HEADER } from './auth.js';
import { adminSecretPath } from './secret.js';
import { audit, bumpGeneration, getSetting, setSetting } from '../db/records.js';
import { KeyStoreUnavailable, maskKey, validateUpstreamKey } from '../keychain/store.js';
import type { ModelRow } from '../pricing/prices.js';
import { normalizeAllowedHost } from '../lifecycle/outbound.js';
import { WEBHOOK_HOSTS_SETTING } from '../lifecycle/rotation.js';
import { JOB_TIMEOUT_SETTING, jobTimeoutMinutes } from '../pipeline/jobs.js';
import { ROTATION_DAYS_SETTING, rotationDays } from '../upstream/rotate.js';
import { actorOf } from './auth.js';
import type { AdminContext } from './context.js';
import { parseInput } from './validate.js';
import { countField, priceField } from '../core/fields.js';
import { CONTROL_PLANE_SETTING, parseControlPlane } from '../upstream/balance.js';
import { PASS_UPSTREAM_FIELDS_SETTING, SEND_AGENT_NAME_SETTING } from '../upstream/hygiene.js';

const price = priceField;
// The same rule as `skillboss-sidecar rotation webhook-hosts` and the sender (lifecycle/outbound.ts).
const hostName = z.string().max(253, 'too long for a host name').transform((h, ctx) => {
  try {
    return normalizeAllowedHost(h);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});
const origin = z
  .string()
  .trim()
  .max(300)
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === s.replace(/\/$/, '') && !u.username && !u.password;
    } catch {
      return false;
    }
  }, 'expected an origin such as http://localhost:5173 (scheme, host and port only)')
  .transform((s) => new URL(s).origin);

const settingsPatch = z
  .strictObject({
    upstream_url: z.string().trim().max(500).optional(),
    webhook_allowed_hosts: z.array(hostName).max(100, 'at most 100 hosts').optional(),
    default_max_tokens: countField(1_000_000).optional(),
    service_job_timeout_minutes: countField(10_080).optional(),
    allowed_origins: z.array(origin).max(50, 'at most 50 origins').optional(),
    default_price: z.strictObject({ prompt: price, completion: price }).optional(),
    price_overrides: z
      .record(z.string().trim().min(1).max(200), z.strictObject({ prompt: price.nullable(), completion: price.nullable() }).nullable())
      .refine((r) => Object.keys(r).length <= 500, 'at most 500 models at once')
      .optional(),
    // The key goes there with the next sync: https only while running, like the upstream; null derives it again.
    control_plane_url: z
      .string()
      .trim()
      .max(500)
      .transform((s, c) => {
        try {
          const u = parseControlPlane(s);
          if (!u.startsWith('https:')) throw new Error('only an https URL can be set while the sidecar runs');
          return u;
        } catch (err) {
          c.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      })
      .nullable()
      .optional(),
    pass_upstream_fields: z.boolean().optional(),
    send_agent_name: z.boolean().optional(),
    key_rotation_days: countField(3650).nullable().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'nothing to change', path: ['body'] });

// Only the key's shape is checked here; the message never contains what was sent.
const keyBody = z.strictObject({ key: z.string().max(1024, 'too long to be a SkillBoss key') });

/** What the price table of the settings shows of a model. */
type ModelPrices = Pick<ModelRow, 'id' | 'prompt_price' | 'completion_price' | 'override_prompt' | 'override_completion' | 'synced_at'>;

export function settingsRouter(ctx: AdminContext): Router {
  const r = Router();
  const { db, deps } = ctx;

  const current = () => {
    const key = deps.key.status();
    const eff = new Map(deps.prices.list().map((p) => [p.id, p]));
    const fallback = deps.prices.priceFor(undefined);
    return {
      upstream_url: deps.upstream().baseUrl,
      control_plane_url: getSetting<string>(db, CONTROL_PLANE_SETTING) ?? null,
      pass_upstream_fields: getSetting<boolean>(db, PASS_UPSTREAM_FIELDS_SETTING) === true,
      send_agent_name: getSetting<boolean>(db, SEND_AGENT_NAME_SETTING) !== false,
      key: { state: key.state, masked: key.state === 'set' ? key.masked : null, store: deps.key.store.kind },
      key_rotation_days: rotationDays(db),
      webhook_allowed_hosts: getSetting<string[]>(db, WEBHOOK_HOSTS_SETTING) ?? [],
      default_max_tokens: deps.limits.defaultMaxTokens,
      service_job_timeout_minutes: jobTimeoutMinutes(db),
      allowed_origins: ctx.allowedOrigins(),
      default_price: { prompt: fallback.prompt, completion: fallback.completion },
      prices: (db.prepare('SELECT id, prompt_price, completion_price, override_prompt, override_completion, synced_at FROM models ORDER BY id').all() as ModelPrices[]).map((m) => ({
        id: m.id,
        upstream: m.prompt_price === null && m.completion_price === null ? null : { prompt: m.prompt_price, completion: m.completion_price },
        override: m.override_prompt === null && m.override_completion === null ? null : { prompt: m.override_prompt, completion: m.override_completion },
        effective: eff.get(m.id) ? { prompt: eff.get(m.id)!.prompt, completion: eff.get(m.id)!.completion, source: eff.get(m.id)!.source } : { prompt: fallback.prompt, completion: fallback.completion, source: 'default' },
      })),
    };
  };

  r.get('/settings', (_req, res) => {
    res.json(current());
  });

  r.patch('/settings', (req, res) => {
    const b = parseInput(settingsPatch, req.body);
    let upstreamUrl: string | undefined;
    if (b.upstream_url !== undefined) {
      let problem: string | null;
      try {
        upstreamUrl = resolveUpstream(b.upstream_url);
        problem = runtimeUpstreamRefusal(upstreamUrl, deps.upstream().baseUrl);
      } catch (err) {
        problem = (err as Error).message;
      }
      if (problem) throw badRequest('invalid_request', `Invalid request body: upstream_url: ${problem}.`, { upstream_url: problem });
    }
    const now = deps.clock();
    const changed: Record<string, unknown> = {};
    const previousUrl = deps.upstream().baseUrl;
    // Where the real key goes is not a session's to change (a stolen one would send the key away, issue 25 item 10):
    // the human proves it afresh with the admin secret, as the bearer or beside the session. Unchanged values need none.
    const moves = [
      upstreamUrl !== undefined && upstreamUrl !== previousUrl ? 'upstream_url' : null,
      b.control_plane_url !== undefined && b.control_plane_url !== (getSetting<string>(db, CONTROL_PLANE_SETTING) ?? null) ? 'control_plane_url' : null,
    ].filter((f): f is string => f !== null);
    if (moves.length > 0 && !req.adminProof) {
      throw forbidden(
        'admin_secret_required',
        `Changing ${moves.join(' and ')} decides where the SkillBoss key is sent, so a dashboard session alone cannot do it: send the admin secret (the file ${adminSecretPath(ctx.dataDir)}) in the ${PROOF_HEADER} header (the dashboard's Settings asks for it), or as "Authorization: Bearer …". Nothing was changed.`,
        Object.fromEntries(moves.map((f) => [f, 'needs the admin secret'])),
      );
    }
    db.transaction(() => {
      if (upstreamUrl !== undefined) setSetting(db, 'upstream_url', (changed.upstream_url = upstreamUrl));
      if (upstreamUrl !== undefined && upstreamUrl !== previousUrl) {
        // Its own event, whoever made the change: the tray announces it (a stolen session would be "admin" too),
        // and the key's next use, the re-sync just below, goes to this URL.
        audit(db, now, { actor: actorOf(req), event: 'upstream.url_changed', detail: { from: previousUrl, to: upstreamUrl, key_sent: 'from the next call on' } });
      }
      if (b.control_plane_url !== undefined) {
        const before = getSetting<string>(db, CONTROL_PLANE_SETTING) ?? null;
        setSetting(db, CONTROL_PLANE_SETTING, (changed.control_plane_url = b.control_plane_url));
        // The key goes there with the next sync: announced like an upstream change, whoever made it.
        if (before !== b.control_plane_url) audit(db, now, { actor: actorOf(req), event: 'upstream.control_plane_changed', detail: { from: before, to: b.control_plane_url, key_sent: 'from the next sync on' } });
      }
      if (b.pass_upstream_fields !== undefined) setSetting(db, PASS_UPSTREAM_FIELDS_SETTING, (changed.pass_upstream_fields = b.pass_upstream_fields));
      if (b.send_agent_name !== undefined) setSetting(db, SEND_AGENT_NAME_SETTING, (changed.send_agent_name = b.send_agent_name));
      if (b.key_rotation_days !== undefined) setSetting(db, ROTATION_DAYS_SETTING, (changed.key_rotation_days = b.key_rotation_days));
      if (b.webhook_allowed_hosts !== undefined) setSetting(db, WEBHOOK_HOSTS_SETTING, (changed.webhook_allowed_hosts = [...new Set(b.webhook_allowed_hosts)]));
      if (b.default_max_tokens !== undefined) setSetting(db, 'default_max_tokens', (changed.default_max_tokens = b.default_max_tokens));
      if (b.service_job_timeout_minutes !== undefined) setSetting(db, JOB_TIMEOUT_SETTING, (changed.service_job_timeout_minutes = b.service_job_timeout_minutes));
      if (b.allowed_origins !== undefined) setSetting(db, 'allowed_origins', (changed.allowed_origins = [...new Set(b.allowed_origins)]));
      if (b.default_price !== undefined) deps.prices.setDefault((changed.default_price = b.default_price));
      if (b.price_overrides !== undefined) {
        for (const [model, p] of Object.entries(b.price_overrides)) deps.prices.setOverride(model, p?.prompt ?? null, p?.completion ?? null);
        changed.price_overrides = b.price_overrides;
      }
      audit(db, now, { actor: actorOf(req), event: 'settings.change', detail: changed });
      bumpGeneration(db, 'settings');
    })();
    // Applied to this daemon only after the commit.
    if (b.default_max_tokens !== undefined) deps.limits.defaultMaxTokens = b.default_max_tokens;
    if (b.allowed_origins !== undefined) ctx.setAllowedOrigins(changed.allowed_origins as string[]);
    if (upstreamUrl !== undefined) {
      ctx.setUpstreamUrl(upstreamUrl);
      void ctx.sync();
    }
    res.json(current());
  });

  r.put('/key', async (req, res) => {
    const b = parseInput(keyBody, req.body);
    let key: string;
    try {
      key = validateUpstreamKey(b.key);
    } catch (err) {
      throw badRequest('invalid_request', `Invalid request body: key: ${(err as Error).message}.`, { key: (err as Error).message });
    }
    try {
      deps.key.store.set(key);
    } catch (err) {
      if (err instanceof KeyStoreUnavailable) throw unavailable('keychain_unavailable', err.message);
      throw err;
    }
    const state = deps.key.reload();
    const now = deps.clock();
    db.transaction(() => {
      audit(db, now, { actor: actorOf(req), event: 'key.set', detail: { key: maskKey(key), store: deps.key.store.kind } });
      bumpGeneration(db, 'key');
    })();
    // The answer says whether SkillBoss accepts the new key, so the human knows at once.
    await ctx.sync();
    const up = deps.upstreamState.get();
    res.json({ key: { state: state.state, masked: state.state === 'set' ? state.masked : null, store: deps.key.store.kind }, upstream: { key: up.key, reachable: up.reachable, last_error: up.lastError } });
  });

  return r;
}

/** The default max_tokens reservation saved in settings, if any (read by the daemon at start). */
export function savedDefaultMaxTokens(db: AdminContext['db']): number | undefined {
  const v = getSetting<number>(db, 'default_max_tokens');
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}
