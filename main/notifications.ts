/**
 * Native notifications: the alert loop (logic/alerts.ts) turned into
 * Electron Notifications that open the right dashboard page when clicked,
 * plus the dashboard's own `window.sidecar.notify` (rate limited: a page
 * must not be able to flood the desktop).
 */
import { Notification } from 'electron';
import type { DB } from '../proxy/db/database.js';
import type { AppContext } from './context.js';
import { Alerts } from './logic/alerts.js';
import type { Notice, NoticeTarget } from './logic/notify-rules.js';

const POLL_MS = 2000;
const PAGE_LIMIT = { count: 5, perMs: 60_000 };

export class Notifier {
  /** Electron drops click handlers of notifications that were garbage-collected; keep them until closed. */
  private readonly live = new Set<Notification>();
  private pageSent: number[] = [];

  constructor(
    private readonly onClick: (target: NoticeTarget) => void,
    private readonly iconPath?: string,
  ) {}

  show(n: Pick<Notice, 'title' | 'body'> & { target?: NoticeTarget; kind?: Notice['kind'] }): void {
    if (!Notification.isSupported()) return;
    // An agent's access request expires in minutes: it stays on screen until the human acts (Linux, Windows).
    const waiting = n.kind === 'access_request' ? ({ timeoutType: 'never' } as const) : {};
    const note = new Notification({ title: n.title, body: n.body, ...waiting, ...(this.iconPath ? { icon: this.iconPath } : {}) });
    this.live.add(note);
    const forget = () => this.live.delete(note);
    note.on('click', () => {
      forget();
      this.onClick(n.target ?? 'overview');
    });
    note.on('close', forget);
    note.on('failed', forget);
    note.show();
  }

  /** From the dashboard page: at most PAGE_LIMIT.count a minute. */
  fromPage(title: string, body: string): void {
    const now = Date.now();
    this.pageSent = this.pageSent.filter((t) => now - t < PAGE_LIMIT.perMs);
    if (this.pageSent.length >= PAGE_LIMIT.count) return;
    this.pageSent.push(now);
    this.show({ title, body });
  }
}

export function setupNotifications(ctx: AppContext): void {
  const notifier = new Notifier((target) => void ctx.window.open(target), ctx.paths.windowIcon);
  ctx.notifier = notifier;
  let alerts: Alerts | null = null;
  let forDb: DB | null = null;
  const timer = setInterval(() => {
    const b = ctx.backend;
    if (!b) return;
    try {
      if (forDb !== b.db) {
        alerts = new Alerts(b.db, ctx.memory);
        forDb = b.db;
      }
      for (const n of alerts!.poll(Date.now())) notifier.show(n);
    } catch (err) {
      ctx.log.warn({ err }, 'could not check for alerts');
    }
  }, POLL_MS);
  ctx.onShutdown(() => clearInterval(timer));
}
