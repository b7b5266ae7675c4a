/** Holds the one AppState and tells subscribers (tray, first run) when it really changes. */
import { INITIAL_STATE, sameState, type AppState } from './state.js';

export class StateStore {
  private s: AppState;
  private readonly listeners = new Set<(s: AppState) => void>();

  constructor(initial: Partial<AppState> = {}) {
    this.s = { ...INITIAL_STATE, ...initial };
  }

  get(): AppState {
    return this.s;
  }

  update(patch: Partial<AppState>): void {
    const next = { ...this.s, ...patch };
    if (sameState(next, this.s)) return;
    this.s = next;
    for (const fn of this.listeners) fn(next);
  }

  subscribe(fn: (s: AppState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
