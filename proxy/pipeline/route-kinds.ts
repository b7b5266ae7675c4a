/**
 * What a ledger row's route says of it (a row's `route` is its route's path,
 * meter.ts): the meter kind it was metered as, for `usage --json`'s `kind`,
 * and the type its spend is shown under when the synced model names none
 * (the dashboard's and the admin API's spend by type). Read from the route
 * table; nothing here branches on a kind.
 */
import { ROUTES, type Meter } from './routes.js';

/** `local`: answered by the sidecar itself (balance, child keys, access requests). */
export type RowKind = Meter | 'local';

const KINDS = new Map<string, RowKind>();
for (const r of ROUTES) if (!KINDS.has(r.path)) KINDS.set(r.path, r.forward?.meter ?? 'local');

/** The OpenAI media routes, whose requests name no SkillBoss model type: their type is what they make. */
const MEDIA_TYPES: Readonly<Record<string, string>> = { '/v1/images/*': 'image', '/v1/audio/*': 'audio' };

/** The meter kind of the ledger route `route`; null for a route the table does not have (any more). */
export function kindOfRoute(route: string): RowKind | null {
  return KINDS.get(route) ?? null;
}

/**
 * The type of a row whose model the sync did not type: an OpenAI media route's (image, audio), else the
 * route's meter kind (chat, completion, embedding, responses, run, …), else `other`.
 */
export function fallbackType(route: string): string {
  return MEDIA_TYPES[route] ?? kindOfRoute(route) ?? 'other';
}
