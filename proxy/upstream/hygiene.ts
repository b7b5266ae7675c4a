/**
 * Fields SkillBoss adds to its answers for its own clients — `_memory_hint`
 * (which asks an agent to rewrite its memory files), `_tip`, `_streak`,
 * `_savings`, `_milestone`, `_skills_update_*`, `_balance_warning` — are
 * instructions the human never approved. By default every `_`-prefixed
 * top-level field is taken out of JSON answers and SSE chunks before an agent
 * sees them; a chunk that held nothing else is dropped. `_balance_warning` is
 * kept for the human (an alert, and a balance refresh).
 *
 * The cost stays proportional to what already happens: a chunk is parsed only
 * when its bytes contain `"_`, and re-serialised only when a field was removed.
 */

/** Setting: pass `_` fields through to agents (default false). */
export const PASS_UPSTREAM_FIELDS_SETTING = 'pass_upstream_fields';
/** Setting: send the token's name as X-Agent-Name (default true). */
export const SEND_AGENT_NAME_SETTING = 'send_agent_name';

export interface Stripped {
  /** The removed fields, or null when there were none. */
  removed: Record<string, unknown> | null;
}

/** Removes `_` fields from the top level of `obj` in place. */
export function stripInjected(obj: Record<string, unknown>): Stripped {
  let removed: Record<string, unknown> | null = null;
  for (const k of Object.keys(obj)) {
    if (k.charCodeAt(0) !== 95 /* _ */) continue;
    (removed ??= {})[k] = obj[k];
    delete obj[k];
  }
  return { removed };
}

/**
 * One SSE `data:` payload with its `_` fields removed: the same string when
 * it had none (or is not a JSON object), a re-serialised one when some were
 * removed, null when nothing else was in it (the chunk is dropped).
 */
export function stripInjectedData(data: string): { data: string | null } & Stripped {
  if (data.indexOf('"_') === -1) return { data, removed: null };
  let obj: unknown;
  try {
    obj = JSON.parse(data);
  } catch {
    return { data, removed: null };
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return { data, removed: null };
  const { removed } = stripInjected(obj as Record<string, unknown>);
  if (!removed) return { data, removed: null };
  return { data: Object.keys(obj).length === 0 ? null : JSON.stringify(obj), removed };
}

/** The text of a `_balance_warning` (a string or `{message}`), bounded; null when there is none. */
export function balanceWarningText(removed: Record<string, unknown> | null): string | null {
  const v = removed?._balance_warning;
  const text = typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string' ? (v as { message: string }).message : null;
  // eslint-disable-next-line no-control-regex
  return text === null ? null : text.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 300);
}
