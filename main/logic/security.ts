/**
 * The window's security decisions as plain functions: which URLs the
 * dashboard window may show, which links may leave for the system browser,
 * which IPC senders are trusted, and the CSP enforced on top of the daemon's.
 */

/** Only the dashboard's own origin, e.g. http://127.0.0.1:7373 */
export function isDashboardUrl(url: string, dashboardOrigin: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' && u.origin === dashboardOrigin;
  } catch {
    return false;
  }
}

/** Links the system browser may open: http(s) only, no credentials in the URL, a sane length. */
export function isSafeExternalUrl(url: string): boolean {
  if (url.length > 2048) return false;
  try {
    const u = new URL(url);
    return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password && u.hostname !== '';
  } catch {
    return false;
  }
}

export interface SenderInfo {
  /** `event.senderFrame?.url`; null when the frame is gone. */
  frameUrl: string | null | undefined;
  /** Whether the sending frame is the top frame (not an iframe). */
  isMainFrame: boolean;
  /** `event.sender.id` */
  webContentsId: number;
}

/** An IPC message is trusted only from the top frame of our own window showing the dashboard origin. */
export function isTrustedSender(s: SenderInfo, expected: { webContentsId: number | null; origin: string }): boolean {
  return s.isMainFrame && expected.webContentsId !== null && s.webContentsId === expected.webContentsId && typeof s.frameUrl === 'string' && isDashboardUrl(s.frameUrl, expected.origin);
}

/**
 * Enforced by the window on dashboard responses in addition to whatever the
 * daemon sends (two CSPs both apply, so this can only tighten). No inline or
 * remote script, no eval, no frames, no plugins; connections only back to
 * the daemon.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-src 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Adds DASHBOARD_CSP to a response's headers, keeping any policy the daemon
 * sent (header names are case-insensitive; every CSP header present applies).
 */
export function withDashboardCsp(headers: Record<string, string | string[]> | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(headers ?? {})) out[k] = Array.isArray(v) ? v : [v];
  const key = Object.keys(out).find((k) => k.toLowerCase() === 'content-security-policy') ?? 'Content-Security-Policy';
  out[key] = [...(out[key] ?? []), DASHBOARD_CSP];
  return out;
}
