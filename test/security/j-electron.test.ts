/**
 * Group J: the Electron shell. Electron cannot run here, so the main
 * process's TypeScript sources are parsed (the TypeScript compiler's own
 * AST, not regexes over text) and checked for the settings and guards the
 * checklist demands; the pure decision functions they call are imported and
 * tried with hostile input.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { IpcArgumentError, parseIpcArgs } from '../../main/logic/ipc-schema.js';
import { isDashboardUrl, isSafeExternalUrl, isTrustedSender } from '../../main/logic/security.js';

const ROOT = new URL('../../', import.meta.url).pathname;

function sources(dir: string, exts = ['.ts', '.cts', '.tsx']): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...sources(rel, exts));
    else if (exts.some((e) => name.endsWith(e)) && !name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

const MAIN = sources('main');
const parsed = new Map(MAIN.map((f) => [f, ts.createSourceFile(f, readFileSync(join(ROOT, f), 'utf8'), ts.ScriptTarget.Latest, true)]));

function walk(node: ts.Node, visit: (n: ts.Node) => void): void {
  visit(node);
  node.forEachChild((c) => walk(c, visit));
}

/** Every node in main/ matching `pred`, with its file. */
function find<T extends ts.Node>(pred: (n: ts.Node) => n is T): Array<{ file: string; node: T }> {
  const out: Array<{ file: string; node: T }> = [];
  for (const [file, sf] of parsed) walk(sf, (n) => pred(n) && out.push({ file, node: n }));
  return out;
}

/** Calls whose callee text is `name` (e.g. `shell.openExternal`, `ipcMain.handle`). */
function calls(name: string) {
  return find((n): n is ts.CallExpression => ts.isCallExpression(n) && n.expression.getText() === name);
}

function prop(obj: ts.ObjectLiteralExpression, name: string): ts.Expression | undefined {
  for (const p of obj.properties) if (ts.isPropertyAssignment(p) && p.name.getText() === name) return p.initializer;
  return undefined;
}

const isLiteral = (e: ts.Expression | undefined, value: boolean) => e?.kind === (value ? ts.SyntaxKind.TrueKeyword : ts.SyntaxKind.FalseKeyword);

function ancestors(n: ts.Node): ts.Node[] {
  const out: ts.Node[] = [];
  for (let p = n.parent; p; p = p.parent) out.push(p);
  return out;
}

describe('J. BrowserWindow settings (CVE-2018-1000136: a webview re-enabled nodeIntegration)', () => {
  const windows = find((n): n is ts.NewExpression => ts.isNewExpression(n) && n.expression.getText() === 'BrowserWindow');

  it('J1 every BrowserWindow has contextIsolation and sandbox on, nodeIntegration (also in workers and subframes) and webviews off', () => {
    expect(windows.length).toBeGreaterThan(0);
    for (const { file, node } of windows) {
      const opts = node.arguments?.[0];
      expect(opts && ts.isObjectLiteralExpression(opts), file).toBe(true);
      const wp = prop(opts as ts.ObjectLiteralExpression, 'webPreferences');
      expect(wp && ts.isObjectLiteralExpression(wp), `${file}: webPreferences written out`).toBe(true);
      const prefs = wp as ts.ObjectLiteralExpression;
      expect(isLiteral(prop(prefs, 'contextIsolation'), true), `${file} contextIsolation`).toBe(true);
      expect(isLiteral(prop(prefs, 'sandbox'), true), `${file} sandbox`).toBe(true);
      expect(isLiteral(prop(prefs, 'nodeIntegration'), false), `${file} nodeIntegration`).toBe(true);
      expect(isLiteral(prop(prefs, 'webviewTag'), false), `${file} webviewTag`).toBe(true);
      for (const k of ['nodeIntegrationInWorker', 'nodeIntegrationInSubFrames']) expect(prop(prefs, k) === undefined || isLiteral(prop(prefs, k), false), `${file} ${k}`).toBe(true);
      for (const k of ['webSecurity']) expect(prop(prefs, k) === undefined || isLiteral(prop(prefs, k), true), `${file} ${k}`).toBe(true);
      expect(prop(prefs, 'allowRunningInsecureContent') === undefined || isLiteral(prop(prefs, 'allowRunningInsecureContent'), false)).toBe(true);
    }
  });

  it('J2 nowhere in main/ is a protection switched off (nodeIntegration true, contextIsolation/sandbox/webSecurity false, remote module, experimental features)', () => {
    const bad = find((n): n is ts.PropertyAssignment => {
      if (!ts.isPropertyAssignment(n)) return false;
      const k = n.name.getText();
      if (/^nodeIntegration/.test(k) || k === 'enableRemoteModule' || k === 'experimentalFeatures' || k === 'allowRunningInsecureContent' || k === 'webviewTag') return isLiteral(n.initializer, true);
      if (k === 'contextIsolation' || k === 'sandbox' || k === 'webSecurity') return isLiteral(n.initializer, false);
      return false;
    });
    expect(bad.map(({ file, node }) => `${file}: ${node.getText()}`)).toEqual([]);
    // `app.commandLine.appendSwitch('no-sandbox')` or the like would undo it all.
    const switches = calls('app.commandLine.appendSwitch').map(({ node }) => node.arguments[0]?.getText() ?? '');
    expect(switches.filter((s) => /sandbox|disable-web-security|remote-debugging/.test(s))).toEqual([]);
  });

  it('J3 the dashboard session is in memory only (no `persist:` partition): the admin cookie never touches the disk', () => {
    const partitions = calls('session.fromPartition');
    expect(partitions.length).toBeGreaterThan(0);
    const text = [...parsed.values()].map((sf) => sf.getText()).join('\n');
    expect(text).not.toMatch(/persist:/);
  });
});

describe('J. navigation, new windows, permissions', () => {
  const windowTs = parsed.get('main/window.ts')!;

  it('J4 navigation away from the dashboard origin is prevented (will-navigate, will-redirect) and webviews are never attached', () => {
    const handlers = find((n): n is ts.CallExpression => ts.isCallExpression(n) && /\.on$/.test(n.expression.getText()) && ts.isStringLiteral(n.arguments[0]!));
    const events = new Map(handlers.map(({ node }) => [(node.arguments[0] as ts.StringLiteral).text, node.arguments[1]!.getText()]));
    expect(events.get('will-navigate')).toBeDefined();
    expect(events.get('will-redirect')).toBeDefined();
    expect(events.get('will-attach-webview')).toMatch(/preventDefault\(\)/);
    // The guard both call prevents every navigation that is not to the dashboard origin.
    expect(windowTs.getText()).toMatch(/if \(origin && isDashboardUrl\(url, origin\)\) return;\s*event\.preventDefault\(\);/);
    for (const url of ['http://127.0.0.1:7374/', 'http://localhost:7373/', 'https://evil.example/', 'http://127.0.0.1:7373.evil.example/', 'file:///etc/passwd', 'javascript:alert(1)']) {
      expect(isDashboardUrl(url, 'http://127.0.0.1:7373'), url).toBe(false);
    }
  });

  it('J5 window.open is always denied (every return of the window-open handler is `{ action: \'deny\' }`)', () => {
    const open = calls('wc.setWindowOpenHandler').concat(calls('win.webContents.setWindowOpenHandler'));
    expect(open.length).toBeGreaterThan(0);
    for (const { node } of open) {
      const returns: string[] = [];
      walk(node.arguments[0]!, (n) => ts.isReturnStatement(n) && returns.push(n.expression?.getText() ?? ''));
      expect(returns.length).toBeGreaterThan(0);
      expect(returns.every((r) => r.replace(/\s/g, '') === "{action:'deny'}")).toBe(true);
    }
  });

  it('J6 permission requests are denied, except sanitized clipboard writes from the dashboard itself', () => {
    for (const name of ['ses.setPermissionRequestHandler', 'ses.setPermissionCheckHandler']) {
      const [h] = calls(name);
      expect(h, name).toBeDefined();
      const literals: string[] = [];
      walk(h!.node.arguments[0]!, (n) => ts.isStringLiteral(n) && n.text !== '' && literals.push(n.text));
      expect(literals, name).toEqual(['clipboard-sanitized-write']);
    }
    expect(calls('ses.on').some(({ node }) => node.getText().includes("'will-download'") && node.getText().includes('preventDefault'))).toBe(true);
  });

  it('J7 shell.openExternal only opens http(s): every call is behind isSafeExternalUrl or the IPC schema that requires it', () => {
    const sites = calls('shell.openExternal');
    expect(sites.length).toBeGreaterThan(0);
    for (const { file, node } of sites) {
      const guarded = ancestors(node).some(
        (a) =>
          ((ts.isIfStatement(a) || ts.isConditionalExpression(a)) && (ts.isIfStatement(a) ? a.expression : a.condition).getText().includes('isSafeExternalUrl')) ||
          (ts.isCallExpression(a) && a.expression.getText() === 'handle' && (a.arguments[0] as ts.StringLiteral | undefined)?.text === 'shell:open-external'),
      );
      expect(guarded, `${file}: ${node.getText()}`).toBe(true);
    }
    for (const url of ['file:///etc/passwd', 'javascript:alert(1)', 'smb://host/share', 'ms-msdt:/id', 'vscode://x', 'https://user:pw@example.com/']) {
      expect(isSafeExternalUrl(url), url).toBe(false);
      expect(() => parseIpcArgs('shell:open-external', [url]), url).toThrow(IpcArgumentError);
    }
    expect(isSafeExternalUrl('https://skillboss.co/docs')).toBe(true);
  });
});

describe('J. IPC', () => {
  it('J8 every IPC handler checks its sender first: ipcMain is used only inside the one wrapper, which calls isTrustedSender before the handler', () => {
    const uses = find((n): n is ts.PropertyAccessExpression => ts.isPropertyAccessExpression(n) && n.expression.getText() === 'ipcMain');
    const kinds = uses.map(({ node }) => node.name.text).sort();
    expect(kinds).toEqual(['handle', 'removeHandler']);
    const [wrapped] = calls('ipcMain.handle');
    const body = wrapped!.node.arguments[1]!.getText();
    expect(body.indexOf('isTrustedSender')).toBeGreaterThan(-1);
    expect(body.indexOf('isTrustedSender')).toBeLessThan(body.indexOf('fn(parseIpcArgs'));
    expect(body).toMatch(/if \(!trusted\) throw/);
    const expected = { webContentsId: 3, origin: 'http://127.0.0.1:7373' };
    expect(isTrustedSender({ frameUrl: 'http://127.0.0.1:7373/', isMainFrame: true, webContentsId: 3 }, expected)).toBe(true);
    expect(isTrustedSender({ frameUrl: 'http://127.0.0.1:7373/', isMainFrame: false, webContentsId: 3 }, expected)).toBe(false);
    expect(isTrustedSender({ frameUrl: 'https://evil.example/', isMainFrame: true, webContentsId: 3 }, expected)).toBe(false);
    expect(isTrustedSender({ frameUrl: 'http://127.0.0.1:7373/', isMainFrame: true, webContentsId: 4 }, expected)).toBe(false);
  });

  it('J9 the preload exposes named functions only, never ipcRenderer itself', () => {
    const preload = parsed.get('main/preload.cts')!;
    const exposes = calls('contextBridge.exposeInMainWorld');
    expect(exposes).toHaveLength(1);
    expect(exposes[0]!.node.arguments[1]!.getText()).toMatch(/^Object\.freeze\(/);
    const ipcUses: string[] = [];
    walk(preload, (n) => ts.isIdentifier(n) && n.text === 'ipcRenderer' && !ts.isImportSpecifier(n.parent) && ipcUses.push(n.parent.getText()));
    expect(ipcUses.every((u) => u.startsWith('ipcRenderer.invoke'))).toBe(true);
    // Each value in the bridge object is a function.
    let bridge: ts.ObjectLiteralExpression | undefined;
    walk(preload, (n) => ts.isVariableDeclaration(n) && n.name.getText() === 'bridge' && n.initializer && ts.isObjectLiteralExpression(n.initializer) && (bridge = n.initializer));
    expect(bridge).toBeDefined();
    for (const p of bridge!.properties) expect(ts.isPropertyAssignment(p) && ts.isArrowFunction(p.initializer), p.getText()).toBe(true);
  });

  it('J10 Electron safeStorage on Linux silently falls back to a constant key: nothing uses it, and the renderer imports no Node or Electron module', () => {
    // Used means imported or called; the precedent may be named in a comment.
    const users = [...MAIN, ...sources('proxy')].filter((f) => /safeStorage\s*\.|import[^;]*\bsafeStorage\b/.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(users).toEqual([]);
    for (const f of sources('renderer/src')) {
      const text = readFileSync(join(ROOT, f), 'utf8');
      expect(text, f).not.toMatch(/from ['"](node:|electron|fs|child_process|path)['"/]/);
      expect(text, f).not.toMatch(/require\(/);
    }
  });
});
