/**
 * The dashboard window's security decisions (checklist group J): what it may
 * show, what may leave for the system browser, which IPC senders count, what
 * IPC arguments pass, and the CSP layered on the daemon's.
 */
import { describe, expect, it } from 'vitest';
import { IpcArgumentError, parseIpcArgs } from '../../../main/logic/ipc-schema.js';
import { DASHBOARD_CSP, isDashboardUrl, isSafeExternalUrl, isTrustedSender, withDashboardCsp } from '../../../main/logic/security.js';

const ORIGIN = 'http://127.0.0.1:7373';

describe('navigation', () => {
  it('stays on the dashboard origin only', () => {
    expect(isDashboardUrl(`${ORIGIN}/#/tokens`, ORIGIN)).toBe(true);
    expect(isDashboardUrl(`${ORIGIN}/admin/login?nonce=x`, ORIGIN)).toBe(true);
    for (const url of [
      'http://127.0.0.1:7374/',
      'http://localhost:7373/',
      'https://127.0.0.1:7373/',
      'http://127.0.0.1:7373.evil.example/',
      'http://evil.example/?http://127.0.0.1:7373',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'data:text/html,hi',
      'not a url',
    ]) {
      expect(isDashboardUrl(url, ORIGIN), url).toBe(false);
    }
  });

  it('opens only http(s) links without credentials in the system browser', () => {
    expect(isSafeExternalUrl('https://docs.skillboss.co/agents')).toBe(true);
    expect(isSafeExternalUrl('http://example.com/')).toBe(true);
    for (const url of ['file:///etc/passwd', 'javascript:alert(1)', 'smb://host/share', 'ms-settings:privacy', 'vscode://x', 'https://user:pw@example.com/', `https://e.com/${'a'.repeat(3000)}`, 'https://']) {
      expect(isSafeExternalUrl(url), url).toBe(false);
    }
  });
});

describe('IPC senders', () => {
  const expected = { webContentsId: 7, origin: ORIGIN };
  it('trusts only the top frame of our window on the dashboard origin', () => {
    expect(isTrustedSender({ frameUrl: `${ORIGIN}/#/tokens`, isMainFrame: true, webContentsId: 7 }, expected)).toBe(true);
    expect(isTrustedSender({ frameUrl: `${ORIGIN}/`, isMainFrame: false, webContentsId: 7 }, expected)).toBe(false);
    expect(isTrustedSender({ frameUrl: `${ORIGIN}/`, isMainFrame: true, webContentsId: 8 }, expected)).toBe(false);
    expect(isTrustedSender({ frameUrl: 'https://evil.example/', isMainFrame: true, webContentsId: 7 }, expected)).toBe(false);
    expect(isTrustedSender({ frameUrl: null, isMainFrame: true, webContentsId: 7 }, expected)).toBe(false);
    expect(isTrustedSender({ frameUrl: `${ORIGIN}/`, isMainFrame: true, webContentsId: 7 }, { webContentsId: null, origin: ORIGIN })).toBe(false);
  });
});

describe('IPC arguments', () => {
  it('accept what the bridge sends', () => {
    expect(parseIpcArgs('clipboard:write', ['http://127.0.0.1:7373/v1'])).toEqual(['http://127.0.0.1:7373/v1']);
    expect(parseIpcArgs('shell:open-external', ['https://skillboss.co/'])).toEqual(['https://skillboss.co/']);
    expect(parseIpcArgs('app:notify', [{ title: ' Copied ' }])).toEqual([{ title: 'Copied', body: '' }]);
  });

  it('refuse anything else, naming the problem without echoing the value', () => {
    const bad: Array<[Parameters<typeof parseIpcArgs>[0], unknown[]]> = [
      ['clipboard:write', []],
      ['clipboard:write', [42]],
      ['clipboard:write', ['x'.repeat(100_001)]],
      ['clipboard:write', ['a', 'b']],
      ['shell:open-external', ['file:///etc/passwd']],
      ['shell:open-external', ['javascript:alert(document.cookie)']],
      ['app:notify', [{ title: '' }]],
      ['app:notify', [{ title: 'x', body: 'y', icon: '/etc/passwd' }]],
      ['app:notify', ['title']],
    ];
    for (const [channel, args] of bad) {
      let err: unknown;
      try {
        parseIpcArgs(channel, args);
      } catch (e) {
        err = e;
      }
      expect(err, `${channel} ${JSON.stringify(args).slice(0, 40)}`).toBeInstanceOf(IpcArgumentError);
      expect((err as Error).message.startsWith(`${channel}: invalid argument`)).toBe(true);
      expect((err as Error).message).not.toContain('passwd');
      expect((err as Error).message).not.toContain('cookie');
    }
  });
});

describe('CSP', () => {
  it('allows no inline or remote script, no frames, no plugins', () => {
    const d = new Map(DASHBOARD_CSP.split('; ').map((p) => [p.split(' ')[0]!, p.split(' ').slice(1).join(' ')]));
    expect(d.get('script-src')).toBe("'self'");
    expect(d.get('object-src')).toBe("'none'");
    expect(d.get('frame-ancestors')).toBe("'none'");
    expect(d.get('frame-src')).toBe("'none'");
    expect(d.get('base-uri')).toBe("'none'");
    expect(DASHBOARD_CSP).not.toMatch(/unsafe-(inline|eval)/);
  });

  it('is added beside the daemon policy, whatever the header case, and never replaces it', () => {
    const theirs = "default-src 'none'; script-src 'self'";
    const out = withDashboardCsp({ 'content-security-policy': [theirs], 'x-frame-options': 'DENY' });
    expect(out['content-security-policy']).toEqual([theirs, DASHBOARD_CSP]);
    expect(out['Content-Security-Policy']).toBeUndefined();
    expect(out['x-frame-options']).toEqual(['DENY']);
    expect(withDashboardCsp(undefined)).toEqual({ 'Content-Security-Policy': [DASHBOARD_CSP] });
  });
});
