/** What the admin API needs from the daemon, built once by `createAdminApp`. */
import type { AccessRequests } from '../access/requests.js';
import type { DB } from '../db/database.js';
import type { DaemonServices } from '../pipeline/context.js';
import type { Sessions } from './sessions.js';
import type { TokenEditor } from './token-edit.js';
import type { TokenViews } from './views.js';

export interface AdminHooks {
  /** Runs a sync with the upstream now (models, prices, balance, key validity). */
  sync(): Promise<void>;
  /** Points forwarding at another upstream base URL. */
  setUpstreamUrl(url: string): void;
  /** Browser origins (besides the dashboard's own) allowed to call the agent API. */
  allowedOrigins(): string[];
  setAllowedOrigins(origins: string[]): void;
  paused(): boolean;
  /**
   * The kill switch as stored (server/pause.ts): whether it is set, and
   * setting it (false when nothing changed); the daemon's own flag follows.
   */
  killSwitch: { isSet(): boolean; set(paused: boolean, by: { actor: string; now: number }): boolean };
  /** Applies what other processes (the CLI without a route of its own) changed in the database, now rather than at the next poll. */
  refresh(): void;
  /** Whether this is the throwaway demo. */
  demo: boolean;
  /** Access requests from agents without a token: the same service the agent routes use. */
  access: AccessRequests;
}

export interface AdminContext extends AdminHooks {
  db: DB;
  deps: DaemonServices;
  dataDir: string;
  port: number;
  startedAt: number;
  views: TokenViews;
  editor: TokenEditor;
  sessions: Sessions;
}

/** The audit actor for changes made through the admin API. */
export const ADMIN_ACTOR = 'admin';
