/**
 * What the upstream can do beyond inference, as probed: the seed page's key
 * rotation and child keys, the real service's sub-wallets. Learnt from the
 * answer to the call itself (a 404, 405 or 501 means the upstream has no such
 * API), so nothing is created or rotated just to find out. Kept in settings
 * per upstream URL, written by whichever process tried (daemon or CLI), read
 * by status, doctor, the dashboard and the tray.
 */
import type { DB } from '../db/database.js';
import { getSetting, setSetting } from '../db/records.js';
import { UpstreamCallError } from './client.js';

export type Capability = 'unknown' | 'supported' | 'unsupported';
export type CapabilityName = 'rotation' | 'childKeys' | 'subWallets';

export interface Capabilities {
  url: string | null;
  rotation: Capability;
  childKeys: Capability;
  subWallets: Capability;
  /** When each was last probed. */
  at: Partial<Record<CapabilityName, number>>;
}

export const CAPABILITIES_SETTING = 'upstream_capabilities';

const unknown = (url: string | null): Capabilities => ({ url, rotation: 'unknown', childKeys: 'unknown', subWallets: 'unknown', at: {} });

/** The capabilities probed at `url`; another upstream's are not this one's. */
export function capabilitiesAt(db: DB, url: string): Capabilities {
  const c = getSetting<Capabilities>(db, CAPABILITIES_SETTING);
  return c && c.url === url ? { ...unknown(url), ...c } : unknown(url);
}

/** The capabilities last probed, at whichever upstream (for `status`, which does not know the daemon's URL). */
export function lastCapabilities(db: DB): Capabilities {
  const c = getSetting<Capabilities>(db, CAPABILITIES_SETTING);
  return c ? { ...unknown(c.url), ...c } : unknown(null);
}

export function recordCapability(db: DB, url: string, name: CapabilityName, value: Capability, now: number): void {
  const c = capabilitiesAt(db, url);
  if (c[name] === value) return;
  setSetting(db, CAPABILITIES_SETTING, { ...c, [name]: value, at: { ...c.at, [name]: now } });
}

/** An answer that says the upstream has no such API (as opposed to refusing this call). */
export function isMissingApi(err: unknown): boolean {
  return err instanceof UpstreamCallError && (err.status === 404 || err.status === 405 || err.status === 501);
}

/** What the human does instead, said the same way everywhere. */
export const ROTATION_UNSUPPORTED =
  'Key rotation is not supported by this upstream (SkillBoss has no key-rotation API): rotate the key in the SkillBoss console (API Keys), then run `skillboss-sidecar key set`. The reminder stays on its schedule; the automatic call is off.';
export const CHILD_KEYS_UNSUPPORTED =
  'Upstream child keys are not supported by this upstream (neither /v1/agents/create-child nor /v1/sub-wallets): create a key for the off-machine agent in the SkillBoss console.';

/** The lines status and doctor print for what is missing (empty when nothing is known to be). */
export function capabilityLines(c: Capabilities): string[] {
  const out: string[] = [];
  if (c.rotation === 'unsupported') out.push(ROTATION_UNSUPPORTED);
  if (c.childKeys === 'unsupported' && c.subWallets === 'unsupported') out.push(CHILD_KEYS_UNSUPPORTED);
  return out;
}
