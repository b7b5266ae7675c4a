/**
 * The dashboard window: the daemon's own dashboard from its loopback URL,
 * signed in through a one-time login link, small, remembering where it was.
 * Closing it only closes it; the tray keeps running. Hardened per the
 * checklist (J): sandboxed, isolated, no Node, no webviews, no navigation
 * away from the dashboard origin, no new windows, no permission beyond
 * writing to the clipboard, a strict CSP on top of the daemon's, and a
 * preload that exposes named functions only.
 */
import { BrowserWindow, screen, session, shell, type Session } from 'electron';
import type { AppContext } from './context.js';
import { restoreBounds, MIN_SIZE } from './logic/bounds.js';
import { loginLink } from './logic/login.js';
import type { Bounds } from './logic/prefs.js';
import { dashboardUrl, type DashboardPlace } from './logic/routes.js';
import { isDashboardUrl, isSafeExternalUrl, withDashboardCsp } from './logic/security.js';

/** In memory only: the admin session cookie never touches the disk and ends with the app. */
const PARTITION = 'sidecar-dashboard';

export interface DashboardWindowOptions {
  /** The daemon's origin now (it can change: another port, attach, restart); null when not running. */
  origin: () => string | null;
  /**
   * A URL that signs the window in to `origin` (a one-time login link), or
   * null when there is nothing to sign in to. Loaded before the first page.
   */
  signIn: (origin: string) => Promise<string | null>;
  preloadPath: string;
  iconPath?: string;
  bounds: { load(): Bounds | undefined; save(b: Bounds): void };
}

export class DashboardWindow {
  private win: BrowserWindow | null = null;
  private hardened = new WeakSet<Session>();

  constructor(private readonly o: DashboardWindowOptions) {}

  /** The webContents id IPC handlers trust, or null when there is no window. */
  webContentsId(): number | null {
    return this.win && !this.win.isDestroyed() ? this.win.webContents.id : null;
  }

  async open(place: DashboardPlace = 'overview'): Promise<void> {
    const origin = this.o.origin();
    if (!origin) return;
    const target = dashboardUrl(origin, place);
    const win = this.win && !this.win.isDestroyed() ? this.win : this.create();
    // Signed in afresh on every open: sessions end when the daemon restarts (issue 25 item 5), and the
    // window cannot tell a restart on the same port from its own session, so a fresh link costs nothing.
    // The login route answers with a redirect to the dashboard's home; the target is loaded after it.
    const link = await this.o.signIn(origin);
    if (link) await win.loadURL(link);
    if (win.webContents.getURL() !== target) await win.loadURL(target);
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
  }

  close(): void {
    if (this.win && !this.win.isDestroyed()) this.win.close();
  }

  private create(): BrowserWindow {
    const ses = session.fromPartition(PARTITION);
    this.harden(ses);
    const bounds = restoreBounds(this.o.bounds.load(), [screen.getPrimaryDisplay().workArea, ...screen.getAllDisplays().map((d) => d.workArea)]);
    const win = new BrowserWindow({
      ...bounds,
      minWidth: MIN_SIZE.width,
      minHeight: MIN_SIZE.height,
      show: false,
      title: 'SkillBoss Sidecar',
      ...(this.o.iconPath ? { icon: this.o.iconPath } : {}),
      autoHideMenuBar: true,
      webPreferences: {
        session: ses,
        preload: this.o.preloadPath,
        sandbox: true,
        contextIsolation: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        nodeIntegrationInSubFrames: false,
        webviewTag: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        navigateOnDragDrop: false,
        spellcheck: false,
        safeDialogs: true,
      },
    });
    const wc = win.webContents;
    const guard = (event: { preventDefault(): void }, url: string) => {
      const origin = this.o.origin();
      if (origin && isDashboardUrl(url, origin)) return;
      event.preventDefault();
      if (isSafeExternalUrl(url)) void shell.openExternal(url);
    };
    wc.on('will-navigate', (e) => guard(e, e.url));
    wc.on('will-redirect', (e) => guard(e, e.url));
    wc.on('will-attach-webview', (e) => e.preventDefault());
    wc.setWindowOpenHandler(({ url }) => {
      // Links meant for a new tab go to the system browser; the app never opens a second window.
      if (isSafeExternalUrl(url) && !isDashboardUrl(url, this.o.origin() ?? '')) void shell.openExternal(url);
      return { action: 'deny' };
    });
    win.on('close', () => {
      if (win.isMinimized() || win.isFullScreen()) return;
      const b = win.getNormalBounds();
      // Whole pixels: fractional bounds (scaled displays) would not pass the prefs schema on the next start.
      this.o.bounds.save({ x: Math.round(b.x), y: Math.round(b.y), width: Math.round(b.width), height: Math.round(b.height) });
    });
    win.on('closed', () => {
      if (this.win === win) this.win = null;
    });
    this.win = win;
    return win;
  }

  private harden(ses: Session): void {
    if (this.hardened.has(ses)) return;
    this.hardened.add(ses);
    // The only permission granted: writing (sanitised) text to the clipboard, from the dashboard itself.
    ses.setPermissionRequestHandler((wc, permission, callback) => {
      callback(permission === 'clipboard-sanitized-write' && isDashboardUrl(wc.getURL(), this.o.origin() ?? ''));
    });
    ses.setPermissionCheckHandler((_wc, permission, requestingOrigin) => permission === 'clipboard-sanitized-write' && requestingOrigin === this.o.origin());
    ses.on('will-download', (e) => e.preventDefault());
    ses.webRequest.onHeadersReceived((details, callback) => {
      const origin = this.o.origin();
      if (!origin || !isDashboardUrl(details.url, origin)) return callback({});
      callback({ responseHeaders: withDashboardCsp(details.responseHeaders) });
    });
  }
}

/** Creates the (not yet opened) dashboard window for the app, signed in with one-time login links. */
export function setupWindow(ctx: AppContext): void {
  ctx.window = new DashboardWindow({
    origin: () => ctx.backend?.url ?? null,
    signIn: async (origin) => (ctx.backend ? loginLink(ctx.backend.db, origin, Date.now()) : null),
    preloadPath: ctx.paths.preload,
    iconPath: ctx.paths.windowIcon,
    bounds: {
      load: () => ctx.prefs.read().window,
      save: (b) => ctx.prefs.update((p) => ({ ...p, window: b })),
    },
  });
}
