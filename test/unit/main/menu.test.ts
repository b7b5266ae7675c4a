/**
 * The tray menu for every state, item by item: label, enabled, checked and
 * action (no snapshots: each expectation says what the human must see).
 */
import { describe, expect, it } from 'vitest';
import { iconState, menuModel, statusOf, tooltip, trayIconFile, type MenuItemModel } from '../../../main/logic/menu.js';
import { INITIAL_STATE, type AppState } from '../../../main/logic/state.js';

const RUNNING: AppState = {
  ...INITIAL_STATE,
  phase: 'running',
  url: 'http://127.0.0.1:7373',
  upstreamKey: 'valid',
  credits: 'ok',
  reachable: true,
  balanceUsd: 87.5,
  spendMicros: 12_340_000,
};

type Row = Pick<MenuItemModel, 'id' | 'label' | 'enabled'> & { checked?: boolean; action?: string };

/** The menu without separators, as plain rows. */
function rows(s: AppState): Row[] {
  return menuModel(s)
    .filter((i) => i.type !== 'separator')
    .map((i) => ({ id: i.id, label: i.label, enabled: i.enabled, ...(i.type === 'checkbox' ? { checked: i.checked } : {}), ...(i.action ? { action: i.action } : {}) }));
}

function item(s: AppState, id: string): Row {
  const r = rows(s).find((x) => x.id === id);
  if (!r) throw new Error(`no menu item ${id}`);
  return r;
}

describe('the tray menu', () => {
  it('running: every item, in order, with its state', () => {
    expect(rows(RUNNING)).toEqual([
      { id: 'status', label: 'Running', enabled: false },
      { id: 'spend', label: 'This month $12.34 · Balance $87.50', enabled: false },
      { id: 'base-url', label: 'http://127.0.0.1:7373/v1', enabled: false },
      { id: 'copy-base-url', label: 'Copy base URL', enabled: true, action: 'copy-base-url' },
      { id: 'new-token', label: 'New token…', enabled: true, action: 'new-token' },
      { id: 'open-dashboard', label: 'Open dashboard', enabled: true, action: 'open-dashboard' },
      { id: 'pause', label: 'Pause all agents', enabled: true, action: 'pause' },
      { id: 'check', label: 'Check for problems', enabled: true, action: 'check' },
      { id: 'autostart', label: 'Start at login', enabled: true, checked: false, action: 'toggle-autostart' },
      { id: 'quit', label: 'Quit', enabled: true, action: 'quit' },
    ]);
    expect(menuModel(RUNNING).filter((i) => i.type === 'separator')).toHaveLength(4);
    expect(statusOf(RUNNING)).toBe('running');
    expect(iconState(RUNNING)).toBe('normal');
    expect(tooltip(RUNNING)).toBe('SkillBoss Sidecar: Running');
  });

  it('paused: the status says so, the switch offers Resume, the icon is the paused one', () => {
    const s = { ...RUNNING, paused: true };
    expect(item(s, 'status')).toEqual({ id: 'status', label: 'Paused: agents get 503', enabled: false });
    expect(item(s, 'pause')).toEqual({ id: 'pause', label: 'Resume all agents', enabled: true, action: 'resume' });
    expect(rows(s).some((r) => r.label === 'Pause all agents')).toBe(false);
    expect(iconState(s)).toBe('paused');
  });

  it('upstream key missing: attention, and a way to set the key', () => {
    const s: AppState = { ...RUNNING, upstreamKey: 'missing', balanceUsd: null };
    expect(item(s, 'status').label).toBe('SkillBoss key missing: agents get 503');
    expect(item(s, 'set-key')).toEqual({ id: 'set-key', label: 'Set the SkillBoss key…', enabled: true, action: 'set-key' });
    expect(item(s, 'spend').label).toBe('This month $12.34 · Balance unknown');
    expect(item(s, 'new-token').enabled).toBe(true);
    expect(iconState(s)).toBe('attention');
  });

  it('upstream key invalid: attention, and a way to set a new key', () => {
    const s: AppState = { ...RUNNING, upstreamKey: 'invalid' };
    expect(item(s, 'status').label).toBe('SkillBoss key invalid: agent calls fail');
    expect(item(s, 'set-key').label).toBe('Set the SkillBoss key…');
    expect(iconState(s)).toBe('attention');
  });

  it('keychain unavailable: attention, and the setup item says to fix the keychain', () => {
    const s: AppState = { ...RUNNING, upstreamKey: 'unavailable' };
    expect(item(s, 'status').label).toBe('Keychain unavailable: agents get 503');
    expect(item(s, 'set-key').label).toBe('Fix the keychain…');
    expect(iconState(s)).toBe('attention');
  });

  it('credits out: attention, no key item (the key is fine)', () => {
    const s: AppState = { ...RUNNING, credits: 'out', balanceUsd: 0 };
    expect(item(s, 'status').label).toBe('SkillBoss credits used up: agents get 402');
    expect(item(s, 'spend').label).toBe('This month $12.34 · Balance $0.00');
    expect(rows(s).some((r) => r.id === 'set-key')).toBe(false);
    expect(iconState(s)).toBe('attention');
  });

  it('a problem outranks the pause in the status line, but the switch still offers Resume', () => {
    const s: AppState = { ...RUNNING, paused: true, upstreamKey: 'invalid' };
    expect(statusOf(s)).toBe('key_invalid');
    expect(iconState(s)).toBe('attention');
    expect(item(s, 'pause').label).toBe('Resume all agents');
  });

  it('upstream unreachable: attention', () => {
    const s: AppState = { ...RUNNING, reachable: false };
    expect(item(s, 'status').label).toBe('SkillBoss unreachable: agent calls fail');
    expect(iconState(s)).toBe('attention');
  });

  it('starting: nothing that needs the daemon is enabled yet', () => {
    const s: AppState = { ...INITIAL_STATE };
    expect(item(s, 'status').label).toBe('Starting…');
    expect(item(s, 'base-url')).toEqual({ id: 'base-url', label: 'Base URL: not listening', enabled: false });
    for (const id of ['copy-base-url', 'new-token', 'open-dashboard', 'pause']) expect(item(s, id).enabled, id).toBe(false);
    for (const id of ['check', 'autostart', 'quit']) expect(item(s, id).enabled, id).toBe(true);
    expect(iconState(s)).toBe('normal');
  });

  it('failed: the reason (shortened), attention, and Check for problems still works', () => {
    const failure = 'Another sidecar process holds /home/u/.local/share/skillboss-sidecar (pid 4242) but does not answer. Stop it.';
    const s: AppState = { ...INITIAL_STATE, phase: 'failed', failure };
    const status = item(s, 'status').label;
    expect(status.startsWith('Not running: Another sidecar process holds')).toBe(true);
    expect(status.endsWith('…')).toBe(true);
    expect(status.length).toBeLessThanOrEqual('Not running: '.length + 70);
    expect(item(s, 'open-dashboard').enabled).toBe(false);
    expect(item(s, 'check').enabled).toBe(true);
    expect(iconState(s)).toBe('attention');
  });

  it('attached to a headless daemon: says so, and Quit says the daemon keeps running', () => {
    const s: AppState = { ...RUNNING, attached: true, url: 'http://127.0.0.1:7400' };
    expect(item(s, 'status').label).toBe('Running (headless daemon)');
    expect(item(s, 'base-url').label).toBe('http://127.0.0.1:7400/v1');
    expect(item(s, 'quit').label).toBe('Quit (the headless daemon keeps running)');
  });

  it('start at login is a checkbox that follows the state', () => {
    expect(item({ ...RUNNING, autostart: true }, 'autostart').checked).toBe(true);
    expect(item({ ...RUNNING, autostart: false }, 'autostart').checked).toBe(false);
  });

  it('picks template images on macOS and colour ones elsewhere', () => {
    expect(trayIconFile('paused', 'darwin')).toBe('tray-pausedTemplate.png');
    expect(trayIconFile('attention', 'linux')).toBe('tray-attention.png');
    expect(trayIconFile('normal', 'win32')).toBe('tray-normal.png');
  });
});
