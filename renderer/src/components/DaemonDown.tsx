/**
 * What the dashboard shows while its daemon does not answer: that the
 * numbers are unavailable (pages drop what they showed, see useLoad), how to
 * start it, and a retry with backoff (1 s, 2 s, 4 s … at most 15 s) that,
 * once the daemon answers, makes every page load again on its own.
 */
import { useEffect, useState } from 'react';
import { api, isReachable, onReachability } from '../api';

const MAX_DELAY_S = 15;

export function useReachable(): boolean {
  const [up, setUp] = useState(isReachable);
  useEffect(() => onReachability(setUp), []);
  return up;
}

/** Asks the daemon whether it is there; any answer (even 401) counts, a network failure does not. */
export function probe(): Promise<unknown> {
  return api('GET', '/session').catch(() => undefined);
}

export function DaemonDown() {
  const up = useReachable();
  const [attempt, setAttempt] = useState(0);
  const [left, setLeft] = useState(0);
  useEffect(() => {
    if (up) {
      setAttempt(0);
      return;
    }
    const delay = Math.min(MAX_DELAY_S, 2 ** attempt);
    setLeft(delay);
    const tick = window.setInterval(() => setLeft((s) => Math.max(0, s - 1)), 1000);
    const retry = window.setTimeout(() => void probe().finally(() => setAttempt((a) => a + 1)), delay * 1000);
    return () => {
      window.clearInterval(tick);
      window.clearTimeout(retry);
    };
  }, [up, attempt]);
  if (up) return null;
  return (
    <div className="notice error down" role="alert">
      <p>
        <strong>The sidecar is not answering</strong>, so the numbers on this page are unavailable. Start it with <code>skillboss-sidecar serve</code> (or open the tray
        app); this page reconnects by itself.
      </p>
      <p className="small">
        Trying again in {left} s.{' '}
        <button type="button" className="button small" onClick={() => void probe().finally(() => setAttempt((a) => a + 1))}>
          Retry now
        </button>
      </p>
    </div>
  );
}

/** In place of a number the daemon could not give. */
export function Unavailable() {
  return <span className="unavailable muted">unavailable</span>;
}
