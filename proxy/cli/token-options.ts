/**
 * The options every command that creates a token takes (`token create`,
 * `env --name`, `connect`): --scopes or --preset, --budget, --expires, --models, read
 * by one set of rules with one set of messages. Each command says only what
 * it grants when neither --scopes nor --preset is given.
 */
import { parseModelList } from '../../wire/allowlist.js';
import { parseScopes, scopesFromPreset, type Scope } from '../tokens/scopes.js';
import { parseExpiry } from '../tokens/store.js';
import { CliError } from './context.js';
import { parseUsdFlag } from './parse.js';

export interface NewTokenFlags {
  scopes?: string;
  preset?: string;
  budget?: string;
  expires: string;
  models?: string;
}

/** What a new token is created with, from its flags. */
export interface NewTokenFields {
  scopes: Scope[];
  /** Micro-dollars per the token's period; null: no budget. */
  budget: number | null;
  expiresAt: number | null;
  /** Model patterns; null: every model (a child: its parent's list). */
  models: string[] | null;
}

/** The help text of --models, the same on every command that takes it. */
export const MODELS_FLAG_HELP = 'the only models it may use, comma-separated patterns (gemini/*,bedrock/claude-*,openai/gpt-5); `all` or left out: every model';

/** --models a,b: the patterns, checked (wire/allowlist.ts); `all`: null, every model. */
export function parseModelsFlag(input: string): string[] | null {
  if (input.trim() === 'all') return null;
  const r = parseModelList(input);
  if (!r.ok) throw new CliError(`--models: ${r.error}`);
  return r.value;
}

/**
 * The scopes of --scopes or --preset (one of them, not both); without
 * either, `fallback`, or when there is none a refusal that asks for one.
 */
export function scopesFromFlags(o: Pick<NewTokenFlags, 'scopes' | 'preset'>, fallback?: readonly Scope[]): Scope[] {
  if (o.scopes && o.preset) throw new CliError('give either --scopes or --preset, not both');
  if (!o.scopes && !o.preset) {
    if (!fallback) throw new CliError('give --scopes a,b or --preset read-only|write|admin');
    return [...fallback];
  }
  try {
    return o.scopes ? parseScopes(o.scopes) : scopesFromPreset(o.preset!);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** --scopes/--preset, --budget, --expires and --models, each checked, before anything is created. */
export function newTokenFields(o: NewTokenFlags, fallbackScopes?: readonly Scope[], now = Date.now()): NewTokenFields {
  const scopes = scopesFromFlags(o, fallbackScopes);
  let expiresAt: number | null;
  try {
    expiresAt = parseExpiry(o.expires, now);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const models = o.models === undefined ? null : parseModelsFlag(o.models);
  return { scopes, budget: o.budget === undefined ? null : parseUsdFlag(o.budget, '--budget'), expiresAt, models };
}
