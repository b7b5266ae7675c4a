/** Start at login on Linux (an XDG autostart entry), and when the window opens at start. */
import { describe, expect, it } from 'vitest';
import { HIDDEN_FLAG, launchCommand, linuxAutostartPath, linuxDesktopEntry, openWindowAtStart, quoteExecArg } from '../../../main/logic/autostart.js';

describe('the Linux autostart entry', () => {
  it('launches the app hidden in the tray', () => {
    const entry = linuxDesktopEntry({ exec: '/opt/SkillBoss Sidecar/skillboss-sidecar', args: [HIDDEN_FLAG] });
    const fields = Object.fromEntries(entry.trim().split('\n').slice(1).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(entry.startsWith('[Desktop Entry]\n')).toBe(true);
    expect(fields).toMatchObject({ Type: 'Application', Name: 'SkillBoss Sidecar', Exec: '"/opt/SkillBoss Sidecar/skillboss-sidecar" --hidden', Terminal: 'false' });
  });

  it('quotes and escapes per the Desktop Entry spec', () => {
    expect(quoteExecArg('/usr/bin/app')).toBe('/usr/bin/app');
    expect(quoteExecArg('/home/a b/app')).toBe('"/home/a b/app"');
    expect(quoteExecArg('/x/$HOME/"q"')).toBe('"/x/\\$HOME/\\"q\\""');
    expect(quoteExecArg('/x/100%')).toBe('/x/100%%');
    // The Exec value is itself a string value: its backslashes are doubled once more.
    expect(linuxDesktopEntry({ exec: '/x/$y' })).toContain('Exec="/x/\\\\$y"\n');
  });

  it('uses the AppImage itself, not its temporary mount, and the XDG config dir', () => {
    expect(launchCommand('/tmp/.mount_Skill/skillboss-sidecar', { APPIMAGE: '/home/u/Apps/SkillBoss.AppImage' })).toBe('/home/u/Apps/SkillBoss.AppImage');
    expect(launchCommand('/usr/bin/skillboss-sidecar', {})).toBe('/usr/bin/skillboss-sidecar');
    expect(linuxAutostartPath({ XDG_CONFIG_HOME: '/cfg' })).toBe('/cfg/autostart/skillboss-sidecar.desktop');
  });
});

describe('opening the window at start', () => {
  it('opens unless launched at login, and always when setup is needed', () => {
    expect(openWindowAtStart({ argv: ['app'], needsSetup: false })).toBe(true);
    expect(openWindowAtStart({ argv: ['app', HIDDEN_FLAG], needsSetup: false })).toBe(false);
    expect(openWindowAtStart({ argv: ['app', HIDDEN_FLAG], needsSetup: true })).toBe(true);
  });
});
