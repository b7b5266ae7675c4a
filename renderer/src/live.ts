/**
 * One EventSource for the whole dashboard (the daemon caps how many streams
 * it serves); pages subscribe to the kinds they show.
 */
import { useEffect, useRef, useState } from 'react';

export type LiveKind = 'request' | 'budget' | 'upstream' | 'rotation' | 'access_request' | 'hold';
type Handler = (kind: LiveKind, data: unknown) => void;

const handlers = new Set<Handler>();
const stateListeners = new Set<(s: boolean) => void>();
let source: EventSource | null = null;
let connected = false;

function setConnected(v: boolean): void {
  connected = v;
  for (const fn of stateListeners) fn(v);
}

function ensure(): void {
  if (source) return;
  source = new EventSource('/admin/api/events');
  source.onopen = () => setConnected(true);
  source.onerror = () => setConnected(false);
  for (const kind of ['request', 'budget', 'upstream', 'rotation', 'access_request', 'hold'] as const) {
    source.addEventListener(kind, (e) => {
      let data: unknown;
      try {
        data = JSON.parse((e as MessageEvent<string>).data);
      } catch {
        return;
      }
      for (const h of handlers) h(kind, data);
    });
  }
}

export function stopLive(): void {
  source?.close();
  source = null;
  setConnected(false);
}

/** Calls `fn` for every live event while the component is mounted. */
export function useLive(fn: Handler): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    const h: Handler = (k, d) => ref.current(k, d);
    handlers.add(h);
    ensure();
    return () => {
      handlers.delete(h);
    };
  }, []);
}

export function useLiveConnected(): boolean {
  const [v, setV] = useState(connected);
  useEffect(() => {
    stateListeners.add(setV);
    ensure();
    return () => {
      stateListeners.delete(setV);
    };
  }, []);
  return v;
}
