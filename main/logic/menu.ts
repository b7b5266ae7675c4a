/**
 * What the tray shows, derived from one AppState in one place (the Signal
 * tray's render-from-state idea): the status line, the icon, the tooltip and
 * every menu item with its label, enabled and checked flags. tray.ts only
 * turns this model into Electron objects.
 */
import { formatUsd } from '../../proxy/core/money.js';
import type { AppState } from './state.js';

export type Status =
  | 'starting'
  | 'failed'
  | 'keychain_unavailable'
  | 'key_missing'
  | 'key_invalid'
  | 'credits_out'
  | 'paused'
  | 'unreachable'
  | 'running';

export type IconState = 'normal' | 'paused' | 'attention';

export type ActionId =
  | 'copy-base-url'
  | 'set-key'
  | 'new-token'
  | 'open-dashboard'
  | 'pause'
  | 'resume'
  | 'check'
  | 'toggle-autostart'
  | 'quit';

export interface MenuItemModel {
  /** Stable across renders (Electron menu item id, tests). */
  id: string;
  type: 'normal' | 'checkbox' | 'separator';
  label: string;
  enabled: boolean;
  checked?: boolean;
  action?: ActionId;
}

/**
 * One status, by precedence: things the human must fix come first (agents are
 * failing because of them), then the human's own pause, then a network blip.
 */
export function statusOf(s: AppState): Status {
  if (s.phase === 'failed') return 'failed';
  if (s.phase === 'starting') return 'starting';
  if (s.upstreamKey === 'unavailable') return 'keychain_unavailable';
  if (s.upstreamKey === 'missing') return 'key_missing';
  if (s.upstreamKey === 'invalid') return 'key_invalid';
  if (s.credits === 'out') return 'credits_out';
  if (s.paused) return 'paused';
  if (s.reachable === false) return 'unreachable';
  return 'running';
}

export function iconState(s: AppState): IconState {
  switch (statusOf(s)) {
    case 'running':
    case 'starting':
      return 'normal';
    case 'paused':
      return 'paused';
    default:
      return 'attention';
  }
}

const MAX_FAILURE = 70;

export function statusLine(s: AppState): string {
  switch (statusOf(s)) {
    case 'starting':
      return 'Starting…';
    case 'failed': {
      const why = s.failure ?? 'unknown error';
      return `Not running: ${why.length > MAX_FAILURE ? `${why.slice(0, MAX_FAILURE - 1)}…` : why}`;
    }
    case 'keychain_unavailable':
      return 'Keychain unavailable: agents get 503';
    case 'key_missing':
      return 'SkillBoss key missing: agents get 503';
    case 'key_invalid':
      return 'SkillBoss key invalid: agent calls fail';
    case 'credits_out':
      return 'SkillBoss credits used up: agents get 402';
    case 'paused':
      return 'Paused: agents get 503';
    case 'unreachable':
      return 'SkillBoss unreachable: agent calls fail';
    case 'running':
      return s.attached ? 'Running (headless daemon)' : 'Running';
  }
}

export function tooltip(s: AppState): string {
  return `SkillBoss Sidecar: ${statusLine(s)}`;
}

export function spendLine(s: AppState): string {
  const balance = s.balanceUsd === null ? 'unknown' : `$${s.balanceUsd.toFixed(2)}`;
  return `This month ${formatUsd(s.spendMicros)} · Balance ${balance}`;
}

/** The base URL agents use (OpenAI-compatible clients want the /v1 suffix). */
export function baseUrlOf(s: AppState): string | null {
  return s.url ? `${s.url}/v1` : null;
}

const SEPARATOR = (id: string): MenuItemModel => ({ id, type: 'separator', label: '', enabled: true });

export function menuModel(s: AppState): MenuItemModel[] {
  const status = statusOf(s);
  const up = s.phase === 'running';
  const base = baseUrlOf(s);
  const needsKey = status === 'key_missing' || status === 'key_invalid' || status === 'keychain_unavailable';
  const items: MenuItemModel[] = [
    { id: 'status', type: 'normal', label: statusLine(s), enabled: false },
    { id: 'spend', type: 'normal', label: spendLine(s), enabled: false },
    SEPARATOR('sep-url'),
    { id: 'base-url', type: 'normal', label: base ?? 'Base URL: not listening', enabled: false },
    { id: 'copy-base-url', type: 'normal', label: 'Copy base URL', enabled: base !== null, action: 'copy-base-url' },
    SEPARATOR('sep-dashboard'),
  ];
  if (needsKey && up) {
    items.push({ id: 'set-key', type: 'normal', label: status === 'keychain_unavailable' ? 'Fix the keychain…' : 'Set the SkillBoss key…', enabled: true, action: 'set-key' });
  }
  items.push(
    { id: 'new-token', type: 'normal', label: 'New token…', enabled: up, action: 'new-token' },
    { id: 'open-dashboard', type: 'normal', label: 'Open dashboard', enabled: up, action: 'open-dashboard' },
    SEPARATOR('sep-control'),
    s.paused
      ? { id: 'pause', type: 'normal', label: 'Resume all agents', enabled: up, action: 'resume' }
      : { id: 'pause', type: 'normal', label: 'Pause all agents', enabled: up, action: 'pause' },
    { id: 'check', type: 'normal', label: 'Check for problems', enabled: true, action: 'check' },
    { id: 'autostart', type: 'checkbox', label: 'Start at login', enabled: true, checked: s.autostart, action: 'toggle-autostart' },
    SEPARATOR('sep-quit'),
    { id: 'quit', type: 'normal', label: s.attached ? 'Quit (the headless daemon keeps running)' : 'Quit', enabled: true, action: 'quit' },
  );
  return items;
}

/**
 * The tray image file for a state (in build/tray/). macOS menu bar icons are
 * template images (black + alpha, tinted by the system), which Electron
 * recognises by the `Template` suffix; elsewhere they are in colour. Each
 * has an @2x sibling that Electron picks up on high-DPI screens.
 */
export function trayIconFile(icon: IconState, platform: NodeJS.Platform): string {
  return platform === 'darwin' ? `tray-${icon}Template.png` : `tray-${icon}.png`;
}
