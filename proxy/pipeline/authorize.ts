/** Stage 3, authorize: may this principal use this route. */
import { forbidden } from '../core/errors.js';
import type { Principal } from './authenticate.js';
import type { RouteDef } from './routes.js';

export function authorize(p: Principal, route: RouteDef): void {
  if (route.scope !== null && !p.scopes.has(route.scope)) {
    throw forbidden(
      'insufficient_scope',
      `This token (${p.token.id}) lacks the scope ${route.scope} needed for ${route.method} ${route.path.replace('/*', '/…')}. Ask the human for a token with that scope.`,
    );
  }
}

/** Minting children and rotating need the newest secret, not one in its grace period. */
export function requireCurrentSecret(p: Principal, action: string): void {
  if (!p.isCurrentSecret) {
    throw forbidden('secret_in_grace_period', `This key has been rotated; an old key in its grace period may only make ordinary calls, not ${action}. Use the new key.`);
  }
}
