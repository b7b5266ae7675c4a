/**
 * Which model `connect` configures when `--model` is not given: one the
 * upstream serves, from the model list the daemon last synced (the `models`
 * table). An agent told to use a model SkillBoss does not serve gets a 404 on
 * its first call, which is what Claude Code does with Anthropic's own names.
 */
import type { DB } from '../../db/database.js';

/** Ids that name an embedding, image, audio or moderation model: nothing an agent can chat with. */
const NOT_CHAT = /embed|image|dall-e|gpt-image|tts|whisper|transcri|speech|audio|moderation|rerank|video|sora|veo/i;

/** The chat models the last sync listed, in the order the upstream first listed them (rows a later sync dropped are left out). */
export function servedChatModels(db: DB): string[] {
  const rows = db
    .prepare('SELECT id FROM models WHERE synced_at IS NOT NULL AND synced_at = (SELECT MAX(synced_at) FROM models) ORDER BY rowid')
    .all() as Array<{ id: string }>;
  return rows.map((r) => r.id).filter((id) => !NOT_CHAT.test(id));
}

export interface ClaudeModels {
  model: string;
  /** For Claude Code's background calls (titles, summaries): a Haiku where one is served, else `model`. */
  small: string;
}

const isClaude = (id: string) => /^(anthropic\/)?claude-/i.test(id);

/**
 * `given` (--model), else a `claude-*` model (a Sonnet first), else the first
 * chat model; null when no list has been synced yet.
 */
export function pickClaudeModels(served: string[], given?: string): ClaudeModels | null {
  const claude = served.filter(isClaude);
  const haiku = claude.find((id) => /haiku/i.test(id));
  const model = given ?? claude.find((id) => /sonnet/i.test(id)) ?? claude[0] ?? served[0];
  if (model === undefined) return null;
  return { model, small: haiku ?? model };
}
