/** Small hooks the pages share: loading a resource, submitting a form, paging a table, the hash route, the element width. */
import { useCallback, useEffect, useRef, useState, type RefObject } from 'react';
import { api, ApiError, onReachability, UNREACHABLE, type Page } from './api';

export interface Loaded<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/** Loads `load()` now and whenever `deps` change; `reload` refetches without clearing what is shown. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const run = useCallback(() => {
    const n = ++seq.current;
    setLoading(true);
    load()
      .then((d) => {
        if (n !== seq.current) return;
        setData(d);
        setError(null);
      })
      .catch((e: unknown) => {
        if (n !== seq.current) return;
        const err = e instanceof ApiError ? e : new ApiError(0, UNREACHABLE, 'The sidecar is not answering.');
        // With the daemon gone what was shown is no longer known: drop it, so pages say "unavailable", not stale numbers.
        if (err.code === UNREACHABLE) setData(null);
        setError(err);
      })
      .finally(() => {
        if (n === seq.current) setLoading(false);
      });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(run, [run]);
  // The daemon gone (any call found out): what every page shows is no longer known, so it goes, badges included.
  // The daemon back (see DaemonDown's retries): load again what was dropped.
  const failed = error?.code === UNREACHABLE;
  useEffect(
    () =>
      onReachability((up) => {
        if (up && failed) run();
        if (!up) {
          seq.current++;
          setData(null);
          setError(new ApiError(0, UNREACHABLE, 'The sidecar is not answering.'));
          setLoading(false);
        }
      }),
    [failed, run],
  );
  return { data, error, loading, reload: run };
}

/** The paths of the routes answered a page at a time (newest first, `next_before` for the next). */
export type PagedPath = `/requests?${string}` | `/audit?${string}`;

/** A table loaded a page at a time (`usePaged`). */
export interface Paged<R> {
  /** The first page's load: its error, and whether it has arrived. */
  first: Loaded<Page<R>>;
  rows: R[];
  setRows: (update: (prev: R[]) => R[]) => void;
  /** Whether there are older rows to load. */
  more: boolean;
  older: () => Promise<void>;
}

/**
 * A newest-first table loaded a page at a time: `path(before)` is the API
 * path of a page (the first without `before`), reloaded from the top when
 * `deps` change; `older` appends the next page, without rows already shown
 * (by `keyOf`, when rows can also arrive live).
 */
export function usePaged<R>(path: (before?: number) => PagedPath, deps: unknown[], keyOf?: (r: R) => string | number): Paged<R> {
  const [rows, setRows] = useState<R[]>([]);
  const [cursor, setCursor] = useState<number | null>(null);
  // The rows are the caller's R: a paged route's answer, chosen by the path the caller builds.
  const page = (before?: number): Promise<Page<R>> => api('GET', path(before));
  const first = useLoad(() => page(), deps);
  useEffect(() => {
    if (!first.data) return;
    setRows(first.data.data);
    setCursor(first.data.next_before);
  }, [first.data]);
  const older = async () => {
    if (cursor === null) return;
    const next = await page(cursor);
    setRows((prev) => [...prev, ...(keyOf ? next.data.filter((r) => !prev.some((p) => keyOf(p) === keyOf(r))) : next.data)]);
    setCursor(next.next_before);
  };
  return { first, rows, setRows, more: cursor !== null, older };
}

export interface Submit {
  /** An action is running: the form's submit button is disabled. */
  busy: boolean;
  /** What the last failed action was told (per-field details included), until one succeeds. */
  error: ApiError | null;
  /** Runs `action`, one at a time: busy while it runs, its refusal kept in `error`, cleared once one succeeds. */
  run(action: () => Promise<void>): Promise<void>;
}

/** The busy and error state of a dialog's or form's submit, the same in every one. */
export function useSubmit(): Submit {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const running = useRef(false);
  const run = useCallback(async (action: () => Promise<void>) => {
    if (running.current) return;
    running.current = true;
    setBusy(true);
    try {
      await action();
      setError(null);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, 'client_error', err instanceof Error ? err.message : String(err)));
    } finally {
      running.current = false;
      setBusy(false);
    }
  }, []);
  return { busy, error, run };
}

/** Calls `fn` at most once per `ms`, trailing. */
export function useDebounced(fn: () => void, ms: number): () => void {
  const timer = useRef<number | null>(null);
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => () => {
    if (timer.current !== null) window.clearTimeout(timer.current);
  }, []);
  return useCallback(() => {
    if (timer.current !== null) return;
    timer.current = window.setTimeout(() => {
      timer.current = null;
      ref.current();
    }, ms);
  }, [ms]);
}

export type Route = 'overview' | 'tokens' | 'access' | 'requests' | 'usage' | 'audit' | 'settings' | 'setup' | 'token';
/** The pages in the navigation, in order. */
export const ROUTES: Array<{ id: Exclude<Route, 'setup'>; label: string }> = [
  { id: 'overview', label: 'Overview' },
  { id: 'tokens', label: 'Tokens' },
  { id: 'access', label: 'Access' },
  { id: 'requests', label: 'Requests' },
  { id: 'usage', label: 'Usage' },
  { id: 'audit', label: 'Audit' },
  { id: 'settings', label: 'Settings' },
];
/** Reached by link only (the tray opens `#/setup` on first run; `#/token/<id>` from a token's name), not in the navigation. */
export const HIDDEN_ROUTES: Array<{ id: Route; label: string }> = [
  { id: 'setup', label: 'Setup' },
  { id: 'token', label: 'Token' },
];

/** `#/token/tok_…?x=y` → ['token', 'tok_…']. */
const segments = (hash: string): string[] => (hash.replace(/^#\/?/, '').split('?')[0] ?? '').split('/');

function routeOf(hash: string): Route {
  const id = segments(hash)[0] as Route;
  return [...ROUTES, ...HIDDEN_ROUTES].some((r) => r.id === id) ? id : 'overview';
}

/** What follows the route in the hash (`#/token/<id>` → the id), kept current. */
export function useRouteParam(): string {
  const [p, setP] = useState(() => segments(window.location.hash)[1] ?? '');
  useEffect(() => {
    const on = () => setP(segments(window.location.hash)[1] ?? '');
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return p;
}

/** Replaces the hash query (the view a page shows, e.g. `range=7d`) without a new history entry. */
export function setHashQuery(q: Record<string, string>): void {
  const base = window.location.hash.split('?')[0] ?? '#/';
  const qs = new URLSearchParams(q).toString();
  window.history.replaceState(null, '', qs ? `${base}?${qs}` : base);
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

/** The `?a=b` part of the hash route (`#/tokens?create=1`), kept current. */
export function useHashQuery(): URLSearchParams {
  const read = () => new URLSearchParams(window.location.hash.split('?')[1] ?? '');
  const [q, setQ] = useState(read);
  useEffect(() => {
    const on = () => setQ(read());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return q;
}

export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(() => routeOf(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(routeOf(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

/** The rendered width of an element, kept current. */
export function useWidth<E extends HTMLElement>(): [RefObject<E | null>, number] {
  const ref = useRef<E | null>(null);
  const [w, setW] = useState(0);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const ro = new ResizeObserver(([entry]) => setW(Math.floor(entry?.contentRect.width ?? 0)));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return [ref, w];
}
