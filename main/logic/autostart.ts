/**
 * Start at login. macOS and Windows have an OS API (Electron's
 * setLoginItemSettings); Linux desktops follow the XDG autostart spec: a
 * .desktop file in ~/.config/autostart. This builds that file.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { envSetting } from '../../proxy/core/env.js';

/** Passed when launched at login: start in the tray without opening the window. */
export const HIDDEN_FLAG = '--hidden';

export function linuxAutostartPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(envSetting('XDG_CONFIG_HOME', env) ?? join(homedir(), '.config'), 'autostart', 'skillboss-sidecar.desktop');
}

/**
 * One Exec argument per the Desktop Entry spec: quoted when it holds a
 * reserved character (with `"` `` ` `` `$` `\` backslash-escaped inside), and
 * `%` doubled so it is not read as a field code.
 */
export function quoteExecArg(arg: string): string {
  const q = /[\s"'\\`$<>|;&*?#()~=]/.test(arg) ? `"${arg.replace(/["`$\\]/g, (c) => `\\${c}`)}"` : arg;
  return q.replace(/%/g, '%%');
}

export function linuxDesktopEntry(o: { exec: string; args?: readonly string[]; name?: string }): string {
  // The Exec value is also a desktop-file string, whose own escaping doubles each backslash.
  const exec = [o.exec, ...(o.args ?? [])].map(quoteExecArg).join(' ').replace(/\\/g, '\\\\');
  return [
    '[Desktop Entry]',
    'Type=Application',
    `Name=${o.name ?? 'SkillBoss Sidecar'}`,
    'Comment=Lets AI agents use SkillBoss without holding the real key',
    `Exec=${exec}`,
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

/** What to launch at login: inside an AppImage the binary lives in a temporary mount, the AppImage itself does not. */
export function launchCommand(execPath: string, env: NodeJS.ProcessEnv = process.env): string {
  return envSetting('APPIMAGE', env) ?? execPath;
}

/** Whether to open the dashboard window right after start. */
export function openWindowAtStart(o: { argv: readonly string[]; needsSetup: boolean }): boolean {
  return o.needsSetup || !o.argv.includes(HIDDEN_FLAG);
}
