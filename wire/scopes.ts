/** The seven SkillBoss scopes, and the presets the console offers. */
export const SCOPES = [
  'models:read',
  'models:use',
  'services:read',
  'services:use',
  'billing:read',
  'billing:write',
  'agents:create',
] as const;

export type Scope = (typeof SCOPES)[number];

export const PRESETS = {
  'read-only': ['models:read', 'services:read', 'billing:read'],
  write: ['models:read', 'services:read', 'billing:read', 'models:use', 'services:use'],
  admin: [...SCOPES],
} as const satisfies Record<string, readonly Scope[]>;

export type Preset = keyof typeof PRESETS;

export function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}

/** Parses a comma/space separated scope list; throws with the offending names. */
export function parseScopes(input: string | readonly string[]): Scope[] {
  const parts = (typeof input === 'string' ? input.split(/[\s,]+/) : [...input]).map((s) => s.trim()).filter(Boolean);
  const unknown = parts.filter((p) => !isScope(p));
  if (unknown.length > 0) {
    throw new Error(`unknown scope${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; valid scopes: ${SCOPES.join(', ')}`);
  }
  return normalizeScopes(parts as Scope[]);
}

/** Sorted in the canonical order, without duplicates. */
export function normalizeScopes(scopes: readonly Scope[]): Scope[] {
  const set = new Set(scopes);
  return SCOPES.filter((s) => set.has(s));
}

export function scopesFromPreset(preset: string): Scope[] {
  if (!(preset in PRESETS)) throw new Error(`unknown preset ${preset}; valid presets: ${Object.keys(PRESETS).join(', ')}`);
  return [...PRESETS[preset as Preset]];
}
