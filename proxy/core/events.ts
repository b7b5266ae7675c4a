/**
 * In-process events for whoever is watching (the dashboard's live stream, the
 * tray, the log). Emitting is cheap when nobody listens.
 */
import { EventEmitter } from 'node:events';
import type { RequestEvent } from './ledger.js';

export type { RequestEvent } from './ledger.js';

/** A request refused before a token was known (no ledger row): 401s, unknown routes. */
export interface RefusedEvent {
  ts: number;
  method: string;
  /** The matched route pattern, or null when no route matched. */
  route: string | null;
  status: number;
  error_code: string;
}

export interface AccessRequestEvent {
  kind: 'created' | 'approved' | 'denied' | 'expired';
  request_id: string;
  name: string;
  /** The code the human compares with the one the agent shows; not a secret. */
  user_code: string;
}

export interface SidecarEventMap {
  request: [RequestEvent];
  refused: [RefusedEvent];
  budget: [{ kind: 'budget_80' | 'budget_100'; token_id: string; period: string; spent_micros: number; budget_micros: number }];
  upstream: [{ kind: 'key_invalid' | 'credits_out' | 'ok' | 'unreachable' | 'key_missing'; detail?: string }];
  rotation: [{ token_id: string; kind: 'manual' | 'auto' | 'upstream' }];
  /**
   * What an answer told about the account (issue 23): SkillBoss's own balance warning, the balance after a
   * call, or a 401 on one route (which only a validity probe may turn into "the key is invalid").
   */
  upstream_said: [{ kind: 'balance_warning'; message: string } | { kind: 'balance_after'; usd: number } | { kind: 'route_key_rejected'; route: string }];
  /** An agent's access request changed (issue 9): for the tray's notification and the dashboard's list. */
  access_request: [AccessRequestEvent];
  /** A token was put on hold for a person's approval, or the person decided (issue 16). */
  hold: [HoldEvent];
  /** The upstream reported more than a request was reserved for (issue 25): charged, and told to the human. */
  overrun: [OverrunEvent];
}

export interface OverrunEvent {
  ts: number;
  request_id: string;
  token_id: string;
  route: string;
  model: string | null;
  reserved_micros: number;
  charged_micros: number;
}

export interface HoldEvent {
  kind: 'held' | 'approved' | 'denied';
  token_id: string;
  name: string;
  reason: string;
  ts: number;
}

export class SidecarEvents extends EventEmitter<SidecarEventMap> {}
