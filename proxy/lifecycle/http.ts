/**
 * `POST /v1/api-keys/auto-rotate` for local tokens, SkillBoss-compatible:
 * `{rotation_interval_days, webhook_url?}` schedules rotation of the calling
 * token; `{enabled: false}` turns it off. The webhook's signing secret is in
 * the answer, once.
 */
import * as z from 'zod';
import { badRequest, unavailable } from '../core/errors.js';
import { parseInput } from '../core/validate.js';
import type { Principal } from '../pipeline/authenticate.js';
import { requireCurrentSecret } from '../pipeline/authorize.js';
import type { LocalRoute } from '../pipeline/context.js';
import { disableAutoRotation, setAutoRotation } from './rotation.js';
import type { Lifecycle } from './scheduler.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER } from './webhook.js';
import { countField } from '../core/fields.js';

const schema = z.strictObject({
  rotation_interval_days: countField(3650).optional(),
  webhook_url: z.string().max(2048).nullish(),
  enabled: z.boolean().optional(),
});

const HINT = 'Send {"rotation_interval_days": 90, "webhook_url": "http://127.0.0.1:PORT/path"}, or {"enabled": false} to stop.';

function parse(json: unknown): { off: true } | { off: false; days: number; webhookUrl: string | null } {
  const b = parseInput(schema, json, 'request body', HINT);
  if (b.enabled === false) return { off: true };
  if (b.rotation_interval_days === undefined) {
    throw badRequest('invalid_request', `Invalid request body: rotation_interval_days is required. ${HINT}`, { rotation_interval_days: 'required' });
  }
  return { off: false, days: b.rotation_interval_days, webhookUrl: b.webhook_url ?? null };
}

/** The route's handler, for the route table (the daemon hands it to the pipeline); the lifecycle starts after the server listens. */
export function autoRotateRoute(lifecycle: () => Lifecycle | undefined): LocalRoute {
  return async (ctx, body) => ({ status: 200, body: await autoRotate(lifecycle(), ctx.principal, body.json) });
}

async function autoRotate(lc: Lifecycle | undefined, principal: Principal, json: unknown): Promise<Record<string, unknown>> {
  requireCurrentSecret(principal, 'set up automatic rotation');
  if (!lc) throw unavailable('lifecycle_unavailable', 'Automatic rotation is not running in this sidecar.');
  const b = parse(json);
  const id = principal.token.id;
  if (b.off) {
    disableAutoRotation(lc.ctx, id, id);
    return { object: 'auto_rotation', id, enabled: false };
  }
  const r = await setAutoRotation(lc.ctx, id, { intervalDays: b.days, webhookUrl: b.webhookUrl }, id);
  return {
    object: 'auto_rotation',
    id,
    enabled: true,
    rotation_interval_days: r.schedule.intervalDays,
    next_rotation_at: new Date(r.schedule.nextAt).toISOString(),
    webhook_url: r.schedule.webhookUrl,
    env_file: r.token.meta.envSink ? true : false,
    ...(r.signingSecret
      ? {
          webhook_signing_secret: r.signingSecret,
          signature: `${SIGNATURE_HEADER}: sha256=HMAC_SHA256(webhook_signing_secret, ${TIMESTAMP_HEADER} + "." + raw body), hex`,
        }
      : {}),
  };
}
