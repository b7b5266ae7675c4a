/**
 * The CLI side of real SkillBoss child keys (`token create --upstream`, and
 * their rows in `token list` / `token revoke`). The real key is read from the
 * key store for the one call and not kept.
 */
import { formatUsd, microsToUsd } from '../../core/money.js';
import { DAY_MS, systemClock } from '../../core/time.js';
import type { DB } from '../../db/database.js';
import type { Scope } from '../../tokens/scopes.js';
import { UpstreamCallError } from '../../upstream/client.js';
import { UpstreamChildInputError, createUpstreamChild, getUpstreamChild, listUpstreamChildren, revokeUpstreamChild, type UpstreamChild, type UpstreamCall } from '../../upstream/children.js';
import { CliError, iso, keyStoreFor, openDb, printJson, type GlobalOptions } from '../context.js';
import { upstreamUrlOf } from './rotation.js';

function realKey(g: GlobalOptions): string {
  const k = keyStoreFor(g).get();
  if (!k) throw new CliError('no SkillBoss key is set, so no upstream child key can be made or revoked: run `skillboss-sidecar key set` first');
  return k;
}

function call(g: GlobalOptions, db: DB, upstreamUrl: string | undefined): UpstreamCall {
  return { db, baseUrl: upstreamUrlOf(db, upstreamUrl), key: realKey(g), clock: systemClock, actor: 'cli' };
}

function upstreamError(err: unknown, what: string): never {
  if (err instanceof UpstreamChildInputError) throw new CliError(`--models: ${err.message}`);
  if (err instanceof UpstreamCallError) {
    const hint = err.status === 401 ? ' (SkillBoss rejected the real key: run `skillboss-sidecar key set`)' : err.status === 403 ? ' (the real key or its scopes do not allow this)' : '';
    throw new CliError(`could not ${what}: ${err.message}${hint}`);
  }
  throw err;
}

export function childStatus(c: UpstreamChild, now = Date.now()): 'active' | 'revoked' | 'expired' {
  if (c.revokedAt !== null) return 'revoked';
  if (c.expiresAt !== null && c.expiresAt <= now) return 'expired';
  return 'active';
}

export function childJson(c: UpstreamChild) {
  return {
    id: c.id,
    kind: 'upstream' as const,
    upstream_kind: c.kind,
    name: c.name,
    scopes: c.scopes,
    monthly_budget: c.budget === null ? null : microsToUsd(c.budget),
    expires_at: c.expiresAt === null ? null : new Date(c.expiresAt).toISOString(),
    created_at: new Date(c.createdAt).toISOString(),
    status: childStatus(c),
    models: c.models,
    revoked_at: c.revokedAt === null ? null : new Date(c.revokedAt).toISOString(),
  };
}

export function upstreamChildRows(db: DB, all: boolean): Array<ReturnType<typeof childJson>> {
  return listUpstreamChildren(db)
    .map(childJson)
    .filter((c) => all || c.status === 'active');
}

export interface UpstreamCreateFlags {
  name: string;
  scopes: Scope[];
  budgetMicros: number | null;
  expiresAt: number | null;
  models?: string[] | null;
  upstreamUrl?: string;
  json?: boolean;
}

export async function createUpstreamChildCli(g: GlobalOptions, f: UpstreamCreateFlags): Promise<void> {
  if (f.budgetMicros === null) throw new CliError('--upstream needs --budget: SkillBoss gives every child key a monthly budget');
  const expirationDays = f.expiresAt === null ? null : Math.max(1, Math.ceil((f.expiresAt - Date.now()) / DAY_MS));
  const db = openDb(g);
  try {
    const c = call(g, db, f.upstreamUrl);
    const { child, apiKey } = await createUpstreamChild(c, { name: f.name, scopes: f.scopes, budget: f.budgetMicros, expirationDays, models: f.models ?? null }).catch((err: unknown) =>
      upstreamError(err, 'create the child key at SkillBoss'),
    );
    if (f.json) return printJson({ ...childJson(child), api_key: apiKey });
    process.stdout.write(
      (child.kind === 'sub-wallet'
        ? `${child.models ? `A model list needs a sub-wallet (allowed_vendors ${child.models.map((m) => m.slice(0, -2)).join(', ')})` : 'This SkillBoss has no child keys'}; created the sub-wallet ${child.id} (${child.name}) instead, capped at ${formatUsd(child.budget)} in total (not per month); expires ${iso(child.expiresAt)}.\n\n`
        : `Created the SkillBoss child key ${child.id} (${child.name}) with scopes ${child.scopes.join(' ')}; budget ${formatUsd(child.budget)}; expires ${iso(child.expiresAt)}.\n\n`) +
        `  ${apiKey}\n\n` +
        'This is a real SkillBoss key for an agent on another machine; it is shown once and kept nowhere here.\n' +
        `Give it to the agent as SKILLBOSS_API_KEY with base URL ${c.baseUrl}. Revoke it with: skillboss-sidecar token revoke ${child.id}\n`,
    );
  } finally {
    db.close();
  }
}

/** Revokes an upstream child by id; false when the id is not one. */
export async function revokeUpstreamChildCli(g: GlobalOptions, id: string, json: boolean | undefined, upstreamUrl?: string): Promise<boolean> {
  const db = openDb(g);
  try {
    const child = getUpstreamChild(db, id);
    if (!child) return false;
    if (child.revokedAt !== null) {
      if (json) printJson({ revoked: [], upstream: true });
      else process.stdout.write(`${id} was already revoked.\n`);
      return true;
    }
    await revokeUpstreamChild(call(g, db, upstreamUrl), id, 'revoked from the CLI').catch((err: unknown) => upstreamError(err, `revoke ${id} at SkillBoss`));
    if (json) printJson({ revoked: [id], upstream: true });
    else process.stdout.write(`Revoked the SkillBoss child key ${id} (and any keys it made) at SkillBoss.\n`);
    return true;
  } finally {
    db.close();
  }
}
