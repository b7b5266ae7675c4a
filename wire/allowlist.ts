/**
 * Per-token model allowlists (issue 24, item 3): the pattern rule, written
 * once for the daemon, the CLI and the dashboard. Pure (no Node, no DOM).
 *
 * A token's `models` is null (every model, as before) or a list of patterns:
 *
 *   - an exact model id matches itself only (`openai/gpt-5`), case-sensitive;
 *   - `*` at the very end matches the rest of the id, `/` included
 *     (`replicate/*` is every replicate model, `replicate/black-forest-labs/flux-schnell` too;
 *     `bedrock/claude-*` every bedrock Claude);
 *   - `*` anywhere else matches within one path segment, never across `/`
 *     (`openai/gpt-*-mini` is `openai/gpt-5-mini`, not `openai/gpt-5/x-mini`);
 *   - ids are made of letters, digits and `. _ ~ : @ + = -`, segments joined
 *     by single `/`; no empty segment, no `**`; at most MAX_MODEL_PATTERN_LENGTH
 *     characters; at most MAX_MODEL_PATTERNS patterns; an empty list is refused
 *     (it would allow nothing: that is a paused or revoked token).
 *
 * A child's list must be within its parent's: each child pattern is covered
 * by some parent pattern (`coveredBy`). The check is conservative: it reads
 * `*` as a symbol, so it may refuse an exotic pair that is in fact covered,
 * never the reverse.
 */
import type { Parsed } from './fields.js';

export const MAX_MODEL_PATTERNS = 32;
export const MAX_MODEL_PATTERN_LENGTH = 128;

const SEGMENT = /^[A-Za-z0-9._~:@+=*-]+$/;

export const MODEL_PATTERN_RULE =
  'a model id (openai/gpt-5) or a pattern with * (gemini/*, bedrock/claude-*): letters, digits, . _ ~ : @ + = -, segments joined by single /; a * at the end matches the rest of the id, elsewhere it stays within one segment';

export function parseModelPattern(input: string): Parsed<string> {
  const p = input.trim();
  if (p === '') return { ok: false, error: 'a model pattern may not be empty' };
  if (p.length > MAX_MODEL_PATTERN_LENGTH) return { ok: false, error: `a model pattern is at most ${MAX_MODEL_PATTERN_LENGTH} characters (got ${p.length})` };
  if (p.includes('**')) return { ok: false, error: `${show(p)}: ** is not a pattern; a single * at the end already matches the rest of the id` };
  if (!p.split('/').every((s) => SEGMENT.test(s))) return { ok: false, error: `${show(p)} is not ${MODEL_PATTERN_RULE}` };
  return { ok: true, value: p };
}

/**
 * A model list from JSON (an array of strings) or text (`a,b` from a flag or a form field).
 * null/undefined stay as they are (callers decide what "not given" means); duplicates are dropped.
 */
export function parseModelList(input: unknown): Parsed<string[]> {
  const items = typeof input === 'string' ? input.split(',') : Array.isArray(input) ? input : null;
  if (items === null) return { ok: false, error: 'expected a list of model patterns (an array, or text separated by commas)' };
  if (items.length > MAX_MODEL_PATTERNS) return { ok: false, error: `at most ${MAX_MODEL_PATTERNS} model patterns (got ${items.length})` };
  const out: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string') return { ok: false, error: 'each model pattern must be a string' };
    // Text may end with a comma or have blanks around them; an empty item in a JSON array is a mistake.
    if (typeof input === 'string' && item.trim() === '') continue;
    const r = parseModelPattern(item);
    if (!r.ok) return r;
    if (!out.includes(r.value)) out.push(r.value);
  }
  if (out.length === 0) return { ok: false, error: 'an empty model list would allow no model; leave it out (or null) for every model' };
  return { ok: true, value: out };
}

type Item = { lit: string } | { star: 'segment' | 'rest' };

function items(pattern: string): Item[] {
  const out: Item[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    out.push(c === '*' ? { star: i === pattern.length - 1 ? 'rest' : 'segment' } : { lit: c });
  }
  return out;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The pattern as an anchored regular expression. */
export function patternRegExp(pattern: string): RegExp {
  const src = items(pattern)
    .map((it) => ('lit' in it ? escapeRe(it.lit) : it.star === 'rest' ? '.*' : '[^/]*'))
    .join('');
  return new RegExp(`^${src}$`);
}

export function modelMatches(pattern: string, model: string): boolean {
  return patternRegExp(pattern).test(model);
}

const compiled = new WeakMap<readonly string[], RegExp[]>();

/** Whether one of `list`'s patterns matches `model` (compiled once per list). */
export function listAllows(list: readonly string[], model: string): boolean {
  let res = compiled.get(list);
  if (!res) {
    res = list.map(patternRegExp);
    compiled.set(list, res);
  }
  return res.some((r) => r.test(model));
}

/** Every id `child` matches, `parent` matches too (conservatively: see the header). */
export function coveredBy(child: string, parent: string): boolean {
  const c = items(child);
  const p = items(parent);
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * 1024 + j;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let r: boolean;
    const pi = p[i];
    const cj = c[j];
    if (pi === undefined) r = cj === undefined;
    else if ('lit' in pi) r = cj !== undefined && 'lit' in cj && cj.lit === pi.lit && go(i + 1, j + 1);
    else if (pi.star === 'rest') r = true;
    // A segment star takes nothing, or one more of the child's items that cannot cross `/`.
    else r = go(i + 1, j) || (cj !== undefined && ('lit' in cj ? cj.lit !== '/' : cj.star === 'segment') && go(i, j + 1));
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

/** The child's patterns that no pattern of the parent's list covers (empty: within it). */
export function outsideOf(child: readonly string[], parent: readonly string[]): string[] {
  return child.filter((c) => !parent.some((p) => coveredBy(c, p)));
}

const show = (p: string) => JSON.stringify(p.length > 60 ? `${p.slice(0, 60)}…` : p);
