/**
 * The admin API, from the dashboard's side: same-origin fetch with the
 * session cookie and the session's key (X-Sidecar-Session), JSON both ways,
 * errors as ApiError with per-field details.
 * Shared shapes, the scope list and the error envelope come from the wire
 * project (wire/, no Node, no DOM); nothing of the daemon itself.
 */
import type { AdminMethod, AdminPath, AnswerOf } from '../../wire/admin-api';
import type { ErrorBody } from '../../wire/errors';

export type ApiErrorBody = ErrorBody;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The code of an ApiError for a call the daemon never answered (it is not running, or restarting). */
export const UNREACHABLE = 'sidecar_unreachable';

// The cookie reaches every port on this host; the key is kept in this origin's storage, which other
// ports cannot read. The login redirect hands over a one-time claim in the fragment (#sbs-claim=…): take it
// out of the URL before anything else reads the hash route, then trade it (with the cookie) for the key.
// A second use of the same fragment gets nothing. localStorage, so reloads and other tabs share the key.
const KEY_ITEM = 'sbs-session';
const handedOver = /^#sbs-claim=([0-9A-Za-z]{43})$/.exec(window.location.hash);
if (handedOver) window.history.replaceState(null, '', window.location.pathname + window.location.search);
/** Settled once the claim (if any) was traded; every admin call waits for it. */
export const sessionReady: Promise<void> = handedOver
  ? fetch('/admin/api/session/claim', { method: 'POST', credentials: 'same-origin', cache: 'no-store', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ claim: handedOver[1] }) })
      .then(async (res) => {
        const got = res.ok ? ((await res.json()) as { key?: unknown }).key : undefined;
        if (typeof got === 'string') window.localStorage.setItem(KEY_ITEM, got);
      })
      .catch(() => undefined)
  : Promise.resolve();

/** The header every admin request carries besides the cookie. */
export function sessionHeaders(): Record<string, string> {
  const key = window.localStorage.getItem(KEY_ITEM);
  return key ? { 'x-sidecar-session': key } : {};
}

type Listener = () => void;
const signedOutListeners = new Set<Listener>();
/** Called whenever the API answers 401: the session ended. */
export function onSignedOut(fn: Listener): () => void {
  signedOutListeners.add(fn);
  return () => signedOutListeners.delete(fn);
}

const reachListeners = new Set<(up: boolean) => void>();
let reachable = true;
/** Whether the daemon answered the last admin call (any status) or did not answer at all. */
export function isReachable(): boolean {
  return reachable;
}
export function onReachability(fn: (up: boolean) => void): () => void {
  reachListeners.add(fn);
  return () => reachListeners.delete(fn);
}
function setReachable(up: boolean): void {
  if (up === reachable) return;
  reachable = up;
  for (const fn of reachListeners) fn(up);
}

/** The session ended (401, or logout): forget its key and tell the listeners. */
export function signedOut(sent: Record<string, string>): void {
  if (window.localStorage.getItem(KEY_ITEM) === sent['x-sidecar-session']) window.localStorage.removeItem(KEY_ITEM);
  for (const fn of signedOutListeners) fn();
}

/**
 * Every admin call goes through here (one place for headers, errors, and
 * knowing the daemon is gone). Its answer is typed by the admin API's route
 * table (wire/admin-api.ts), from the method and the path as written: a path
 * no route matches does not compile.
 */
export async function api<M extends AdminMethod, P extends AdminPath<M>>(method: M, path: P, body?: unknown, extra: Record<string, string> = {}): Promise<AnswerOf<M, P>> {
  await sessionReady;
  const auth = sessionHeaders();
  let res: Response;
  try {
    res = await fetch(`/admin/api${path}`, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: body === undefined ? { ...extra, ...auth } : { ...extra, ...auth, 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch {
    setReachable(false);
    throw new ApiError(0, UNREACHABLE, 'The sidecar is not answering.');
  }
  setReachable(true);
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  if (path === '/logout' && method === 'POST') window.localStorage.removeItem(KEY_ITEM);
  if (!res.ok) {
    const e = (json as ApiErrorBody | null)?.error;
    if (res.status === 401) signedOut(auth);
    throw new ApiError(res.status, e?.code ?? 'http_error', e?.message ?? `The sidecar answered ${res.status}.`, e?.details ?? {});
  }
  return json as AnswerOf<M, P>;
}

// The scope list and presets are the daemon's own (pure data, no Node), so they cannot drift apart.
export { PRESETS, SCOPES, type Scope } from '../../wire/scopes';

export type { Alert, SeriesRange, SeriesResponse, Status, TokenStatus, TokenView, UsageRow } from '../../wire/admin';
export type {
  AccessList,
  AccessRequestView,
  AccessStatus,
  AuditRow,
  HeldToken,
  Issued,
  Page,
  PriceRow,
  RequestRow,
  Settings,
  TokenDetail,
  UsageResponse,
} from '../../wire/admin-api';

