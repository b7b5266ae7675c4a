/** Stage 3, authorize: may this principal use this route (its scope), and, once the body is read, the model it names. */
import { forbidden, SidecarError } from '../core/errors.js';
import { refusingModelList } from '../tokens/rules.js';
import type { Principal } from './authenticate.js';
import { DEFAULT_MAX_DEPTH, SCAN_FROM_BYTES, type RequestBody } from './body.js';
import { scanBody } from './scan.js';
import type { MatchedRoute, RouteDef } from './routes.js';

export function authorize(p: Principal, route: RouteDef): void {
  if (route.scope !== null && !p.scopes.has(route.scope)) {
    throw forbidden(
      'insufficient_scope',
      `This token (${p.token.id}) lacks the scope ${route.scope} needed for ${route.method} ${route.path.replace('/*', '/…')}. Ask the human for a token with that scope.`,
    );
  }
}

/**
 * A token with a model list (or under an ancestor with one) may name only what every list in its chain allows
 * (wire/allowlist.ts), on every route that names a model. Called before anything is reserved or sent; on a
 * scanned body the model is the scanner's. Fails closed: a model the sidecar cannot read (none given, a
 * multipart upload, a route where SkillBoss picks it) is refused to a restricted token.
 */
export function authorizeModel(p: Principal, route: MatchedRoute, body: RequestBody | undefined, maxDepth = DEFAULT_MAX_DEPTH): void {
  const where = route.def.model;
  if (where === undefined || !p.chain.some((t) => t.models !== null)) return;
  const list = p.chain.find((t) => t.models !== null)!;
  const path = `${route.def.method} ${route.def.path.replace('/*', '/…')}`;
  // A list of `*` allows what SkillBoss picks too; any narrower list cannot hold the router to it.
  if (where === 'upstream' && p.chain.every((t) => t.models === null || t.models.includes('*'))) return;
  if (where === 'upstream') throw modelNotAllowed(p, list.models!, `${path} lets SkillBoss pick the model, and no model list can hold it to yours; call POST /v1/run (or the model's own route) with a model from the list.`);
  const asked = where === 'path' ? route.params[0] : (body?.json?.model ?? body?.scan?.fields.model ?? unparsedModel(body, maxDepth));
  if (typeof asked !== 'string' || asked === '') {
    const why = body && body.json === undefined && body.scan === undefined && where === 'body' ? 'its body is not JSON, so the sidecar cannot read which model it names' : 'it names no model';
    throw modelNotAllowed(p, list.models!, `This request is refused because ${why}; name a model from the list.`);
  }
  const refusing = refusingModelList(p.chain, asked);
  if (refusing) {
    const shown = JSON.stringify(asked.length > 120 ? `${asked.slice(0, 120)}…` : asked);
    throw modelNotAllowed(p, refusing.models!, `${shown} is not in it${refusing.id === p.token.id ? '' : ` (the list is its ancestor ${refusing.id}'s)`}.`);
  }
}

/** The model a large JSON body left unparsed names (a dialect's own route counts it in the pool): scanned for that field only. */
function unparsedModel(body: RequestBody | undefined, maxDepth: number): unknown {
  if (!body || body.json !== undefined || body.scan !== undefined || body.raw.length < SCAN_FROM_BYTES) return undefined;
  return scanBody(body.raw, MODEL_FIELD, maxDepth).fields.model;
}
const MODEL_FIELD: ReadonlySet<string> = new Set(['model']);

function modelNotAllowed(p: Principal, list: readonly string[], why: string) {
  const message = `This token (${p.token.id}) may use only the models ${list.join(', ')}. ${why} Ask the human to widen the token's model list if it needs more.`;
  // `param: model` points at the field; the details carry the list for a client that reads it.
  return new SidecarError(403, 'permission_error', 'model_not_allowed', message, { details: { model: `allowed: ${list.join(', ')}` } });
}

/** Minting children and rotating need the newest secret, not one in its grace period. */
export function requireCurrentSecret(p: Principal, action: string): void {
  if (!p.isCurrentSecret) {
    throw forbidden('secret_in_grace_period', `This key has been rotated; an old key in its grace period may only make ordinary calls, not ${action}. Use the new key.`);
  }
}
