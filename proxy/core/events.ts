/**
 * In-process events for whoever is watching (the dashboard's live stream, the
 * tray, the log). Emitting is cheap when nobody listens.
 */
import { EventEmitter } from 'node:events';
import type { RequestEvent } from './ledger.js';

export type { RequestEvent } from './ledger.js';

export interface AccessRequestEvent {
  kind: 'created' | 'approved' | 'denied' | 'expired';
  request_id: string;
  name: string;
  /** The code the human compares with the one the agent shows; not a secret. */
  user_code: string;
}

export interface SidecarEventMap {
  request: [RequestEvent];
  budget: [{ kind: 'budget_80' | 'budget_100'; token_id: string; period: string; spent_micros: number; budget_micros: number }];
  upstream: [{ kind: 'key_invalid' | 'credits_out' | 'ok' | 'unreachable' | 'key_missing'; detail?: string }];
  rotation: [{ token_id: string; kind: 'manual' | 'auto' | 'upstream' }];
  /** An agent's access request changed (issue 9): for the tray's notification and the dashboard's list. */
  access_request: [AccessRequestEvent];
}

export class SidecarEvents extends EventEmitter<SidecarEventMap> {}
