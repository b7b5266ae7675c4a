/**
 * The SkillBoss key's one state, for every page that mentions it. The
 * daemon reports two things — whether the keychain holds a key, and what
 * SkillBoss said at the last check — and they can disagree for a while (a key
 * saved while SkillBoss is unreachable was never checked, and the last check
 * may predate it). Combining them in one place means no page can say
 * "sk-…1234 · not set".
 */
export type KeyCondition = 'missing' | 'unavailable' | 'valid' | 'invalid' | 'unchecked';

export function keyCondition(s: { key: { state: string }; upstream: { key: string } }): KeyCondition {
  if (s.key.state !== 'set') return s.key.state === 'unavailable' ? 'unavailable' : 'missing';
  if (s.upstream.key === 'valid' || s.upstream.key === 'invalid') return s.upstream.key;
  return 'unchecked';
}

/** Short, after the masked key: "sk-…1234 · accepted by SkillBoss". */
export const KEY_SHORT: Record<KeyCondition, string> = {
  valid: 'accepted by SkillBoss',
  invalid: 'rejected by SkillBoss',
  missing: 'not set',
  unavailable: 'keychain unavailable',
  unchecked: 'saved, not checked with SkillBoss yet',
};

/** As a sentence, where the key is set up. */
export const KEY_SENTENCE: Record<KeyCondition, string> = {
  valid: 'SkillBoss accepted the key.',
  invalid: 'SkillBoss rejected this key (401). Check it and paste it again.',
  missing: 'No key is set yet.',
  unavailable: 'The OS keychain could not be read.',
  unchecked: 'Saved in the OS keychain, but not checked with SkillBoss yet: it could not be reached. The sidecar checks it again at its next sync.',
};

export const keyTone = (c: KeyCondition): 'good' | 'warn' | 'bad' => (c === 'valid' ? 'good' : c === 'unchecked' ? 'warn' : 'bad');
