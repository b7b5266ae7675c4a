/**
 * Who may use the admin API, and from where.
 *
 * - Scripts: `Authorization: Bearer <admin secret>` (the file in the data dir).
 * - Browsers: an HttpOnly, SameSite=Strict session cookie, set by a one-time
 *   login link (`skillboss-sidecar open`), together with the session's key in
 *   an `X-Sidecar-Session` header. The login redirect hands the dashboard
 *   page a one-time claim in the URL fragment (never sent to a server, read by
 *   the page and removed), which the page trades once for the key
 *   (`POST /admin/api/session/claim`); it keeps the key in its origin's
 *   storage, which other ports cannot read.
 * - Changing where the real key is sent needs the admin secret in the request
 *   (bearer, or `X-Sidecar-Admin-Secret` beside a session): `adminProof`.
 * - Agent tokens never grant admin access (403), whatever their scopes.
 *
 * Who made a change, as the audit log says (`req.adminActor`, `actorOf`): `admin` (the
 * dashboard, a script), or `cli` when an admin-secret request says it comes from the CLI
 * (`X-Sidecar-Client: cli`, sent by cli/daemon.ts), as the CLI's own writes to the
 * database say. Only a label: anyone holding the admin secret may do anything the
 * CLI can, so it is not proof; a dashboard session may not send it (400), so a
 * change from the dashboard never reads as the CLI's.
 *
 * SameSite is not enough on loopback: cookies are not scoped by port, so a
 * page served from 127.0.0.1:<any other port> is "same-site" and its requests
 * carry the cookie. The daemon's Guards refuse foreign Origin/Host on every
 * route; this module checks again for the admin API, stricter: a cookie
 * request must come from the dashboard's own origin (not the agents' origin
 * allowlist), and a state-changing one must say so with its Origin header and
 * a JSON content type (which no cross-origin form or no-cors fetch can send).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { badRequest, forbidden, rateLimited, unauthorized, unsupportedMediaType } from '../core/errors.js';
import { clientBucket, refuseDuplicateAuthorization, type FailedAuthLimiter } from '../pipeline/authenticate.js';
import type { Clock } from '../core/time.js';
import { markAuthenticated } from '../core/conn.js';
import { TOKEN_PREFIX } from '../tokens/format.js';
import { secretMatches } from './secret.js';
import type { Sessions } from './sessions.js';
import { CLIENT_HEADER } from '../../wire/admin.js';

export type AdminVia = 'bearer' | 'session';
/** The audit actor of an admin API change. */
export type AdminActor = 'admin' | 'cli';

declare module 'express-serve-static-core' {
  interface Request {
    adminVia?: AdminVia;
    adminSession?: string;
    /** The admin secret itself came with this request (as the bearer, or beside a session): a fresh proof from the human. */
    adminProof?: boolean;
    adminActor?: AdminActor;
  }
}


/** Who the audit log names for a change made by this (authenticated) request. */
export function actorOf(req: Request): AdminActor {
  return req.adminActor ?? 'admin';
}

function clientActor(req: Request, via: AdminVia): AdminActor {
  const client = req.headers[CLIENT_HEADER];
  if (client === undefined) return 'admin';
  if (via === 'session') throw badRequest('client_not_allowed', `A dashboard session speaks for the dashboard; ${CLIENT_HEADER} is for admin-secret requests of the CLI.`);
  if (client !== 'cli') throw badRequest('invalid_client', `${CLIENT_HEADER} may only be "cli".`);
  return 'cli';
}

export interface AuthConfig {
  secret: string;
  sessions: Sessions;
  clock: Clock;
  port: number;
  /** Wrong admin secrets, counted per client like /v1's wrong tokens (loopback is one client). */
  limiter?: FailedAuthLimiter;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** The header carrying the session's key; not a CORS-safelisted header, so no cross-origin page can send it without a preflight we never grant. */
export const SESSION_HEADER = 'x-sidecar-session';
/**
 * The admin secret sent beside a dashboard session, for the changes a session alone may not make (where the
 * real key is sent: issue 25 item 10). Not CORS-safelisted either, so no other origin can send it.
 */
export const PROOF_HEADER = 'x-sidecar-admin-secret';

export function cookieName(port: number): string {
  // Cookies are shared across ports on one host; the port in the name keeps two daemons apart.
  return `sbs_admin_${port}`;
}

/** The dashboard's own origins: the loopback names with our port. */
export function ownOrigins(port: number): Set<string> {
  return new Set(['127.0.0.1', 'localhost', '[::1]'].map((h) => `http://${h}:${port}`));
}

/** The Host values the admin API answers to: loopback names with our port, even when the daemon binds another address. */
export function ownHosts(port: number): Set<string> {
  return new Set(['127.0.0.1', 'localhost', '[::1]'].map((h) => `${h}:${port}`));
}

/** Refuses any Host but our loopback names (DNS rebinding), before anything else of the admin app runs. */
export function loopbackOnly(port: number): RequestHandler {
  const hosts = ownHosts(port);
  return function adminLoopbackOnly(req, _res, next) {
    if (!hosts.has((req.headers.host ?? '').toLowerCase())) {
      throw forbidden('forbidden_host', 'The admin API and login links only answer on 127.0.0.1, localhost or [::1] with the sidecar\'s port.');
    }
    next();
  };
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(port: number, id: string, maxAgeMs: number): string {
  return `${cookieName(port)}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(maxAgeMs / 1000)}`;
}

export function clearedCookie(port: number): string {
  return `${cookieName(port)}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
}

const LOGIN_HELP = 'Sign in with a one-time link from `skillboss-sidecar open`, or send the admin secret (the admin-secret file in the data dir) as "Authorization: Bearer …".';

export function requireAdmin(cfg: AuthConfig): RequestHandler {
  const origins = ownOrigins(cfg.port);
  const name = cookieName(cfg.port);

  return function requireAdminAuth(req: Request, _res: Response, next: NextFunction): void {
    const origin = req.headers.origin;
    // Checked before credentials, so a foreign page learns nothing, not even whether it is signed in.
    if (origin !== undefined && !origins.has(origin)) throw forbidden('forbidden_origin', 'The admin API only answers the dashboard\'s own origin.');
    const fetchSite = req.headers['sec-fetch-site'];
    if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') {
      throw forbidden('forbidden_origin', 'The admin API refuses cross-site and same-site requests from other origins.');
    }

    refuseDuplicateAuthorization(req);
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer (.{1,512})$/.exec(header);
      const presented = m?.[1]?.trim() ?? '';
      if (presented.startsWith(TOKEN_PREFIX)) {
        throw forbidden('agent_token_not_admin', 'Agent tokens never grant access to the admin API; use the admin secret or a dashboard session.');
      }
      const bucket = clientBucket(req.socket.remoteAddress ?? '');
      const now = cfg.clock();
      const wait = cfg.limiter?.blockedFor(bucket, now) ?? 0;
      if (!presented || !secretMatches(presented, cfg.secret)) {
        // Only failures are slowed: the right secret always gets in, however many wrong ones came before
        // it (issue 25 item 7); a constant-time compare costs nothing, and a guesser learns only "wrong".
        if (wait > 0) throw rateLimited('auth_rate_limited', `Too many wrong admin secrets from this machine; retry after ${Math.ceil(wait)} s. ${LOGIN_HELP}`, wait);
        cfg.limiter?.failed(bucket, now);
        throw unauthorized('invalid_admin_secret', `That is not this sidecar's admin secret. ${LOGIN_HELP}`);
      }
      req.adminVia = 'bearer';
      req.adminProof = true;
      markAuthenticated(req);
      req.adminActor = clientActor(req, 'bearer');
      return checkUnsafe(req, next);
    }

    const session = readCookie(req.headers.cookie, name);
    const key = req.headers[SESSION_HEADER];
    // The cookie alone proves nothing: every port on this host receives it.
    if (session === undefined || typeof key !== 'string' || !cfg.sessions.valid(session, key, cfg.clock())) throw unauthorized('login_required', `Not signed in, or the session ended. ${LOGIN_HELP}`);
    if (!SAFE_METHODS.has(req.method) && (origin === undefined || !origins.has(origin))) {
      // Every browser sends Origin on state-changing requests; one without it did not come from the dashboard.
      throw forbidden('origin_required', 'State-changing admin requests from a browser must come from the dashboard\'s own origin.');
    }
    req.adminVia = 'session';
    req.adminActor = clientActor(req, 'session');
    req.adminSession = session;
    markAuthenticated(req);
    const proof = req.headers[PROOF_HEADER];
    if (proof !== undefined) {
      const bucket = clientBucket(req.socket.remoteAddress ?? '');
      const now = cfg.clock();
      if (typeof proof !== 'string' || !secretMatches(proof.trim(), cfg.secret)) {
        // Wrong guesses are limited like wrong bearers; 403, not 401: the session itself is fine and stays signed in.
        const wait = cfg.limiter?.blockedFor(bucket, now) ?? 0;
        if (wait > 0) throw rateLimited('auth_rate_limited', `Too many wrong admin secrets from this machine; retry after ${Math.ceil(wait)} s.`, wait);
        cfg.limiter?.failed(bucket, now);
        throw forbidden('invalid_admin_secret', 'That is not this sidecar\'s admin secret (the admin-secret file in the data dir); nothing was changed.');
      }
      req.adminProof = true;
    }
    return checkUnsafe(req, next);
  };
}

/** The claim trade comes from the dashboard's own page only: its Origin, same-origin, JSON. */
export function claimGuard(port: number): RequestHandler {
  const origins = ownOrigins(port);
  return function claimFromDashboard(req, _res, next) {
    const origin = req.headers.origin;
    if (origin === undefined || !origins.has(origin)) throw forbidden('origin_required', 'Only the dashboard\'s own page can finish signing in.');
    const fetchSite = req.headers['sec-fetch-site'];
    if (fetchSite !== undefined && fetchSite !== 'same-origin') throw forbidden('forbidden_origin', 'Only the dashboard\'s own page can finish signing in.');
    if (!req.is('application/json')) throw unsupportedMediaType('Admin requests with a body must send Content-Type: application/json.');
    next();
  };
}

function checkUnsafe(req: Request, next: NextFunction): void {
  if (!SAFE_METHODS.has(req.method) && req.headers['content-length'] !== '0' && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)) {
    if (!req.is('application/json')) throw unsupportedMediaType('Admin requests with a body must send Content-Type: application/json.');
  }
  next();
}
