/**
 * One live-event stream for the whole dashboard (the daemon caps how many
 * streams it serves); pages subscribe to the kinds they show. Read with
 * fetch rather than EventSource, which cannot send the session's key header.
 */
import { useEffect, useRef, useState } from 'react';
import { sessionHeaders, sessionReady, signedOut } from './api';

export type LiveKind = 'request' | 'budget' | 'upstream' | 'rotation' | 'access_request' | 'hold';
type Handler = (kind: LiveKind, data: unknown) => void;

const KINDS = new Set<string>(['request', 'budget', 'upstream', 'rotation', 'access_request', 'hold']);
const RETRY_MS = 2000;
const handlers = new Set<Handler>();
const stateListeners = new Set<(s: boolean) => void>();
let running: AbortController | null = null;
let connected = false;

function setConnected(v: boolean): void {
  connected = v;
  for (const fn of stateListeners) fn(v);
}

/** One `event:`/`data:` frame of the text/event-stream format; comments and unknown kinds are skipped. */
function dispatch(frame: string): void {
  let kind = '';
  let data = '';
  for (const line of frame.split('\n')) {
    if (line.startsWith('event:')) kind = line.slice(6).trim();
    else if (line.startsWith('data:')) data += line.slice(5).trimStart();
  }
  if (!KINDS.has(kind)) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return;
  }
  for (const h of handlers) h(kind as LiveKind, parsed);
}

async function follow(signal: AbortSignal): Promise<void> {
  await sessionReady;
  while (!signal.aborted) {
    const auth = sessionHeaders();
    try {
      const res = await fetch('/admin/api/events', { credentials: 'same-origin', cache: 'no-store', headers: { ...auth, accept: 'text/event-stream' }, signal });
      if (res.status === 401) {
        running = null;
        signedOut(auth);
        return;
      }
      if (res.ok && res.body) {
        setConnected(true);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value.replace(/\r\n?/g, '\n');
          for (let end = buf.indexOf('\n\n'); end !== -1; end = buf.indexOf('\n\n')) {
            dispatch(buf.slice(0, end));
            buf = buf.slice(end + 2);
          }
        }
      }
    } catch {
      /* network error or aborted: retried below unless stopped */
    }
    setConnected(false);
    if (signal.aborted) return;
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

function ensure(): void {
  if (running) return;
  running = new AbortController();
  void follow(running.signal);
}

export function stopLive(): void {
  running?.abort();
  running = null;
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
