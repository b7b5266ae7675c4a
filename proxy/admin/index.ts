/**
 * The admin API (`/admin/api/*`, JSON) and the dashboard, as one express app
 * the daemon hands every request that is not `/v1` (the agent path never
 * goes through express).
 *
 *   GET  /admin/login?nonce=…      one-time login link → session cookie → /
 *   GET  /admin/api/status          overview and alerts
 *   GET  /admin/api/tokens[/tree|/:id], POST /admin/api/tokens,
 *        POST /admin/api/tokens/:id/rotate|revoke|pause, PATCH /admin/api/tokens/:id
 *   GET  /admin/api/usage, /admin/api/series, /admin/api/requests, /admin/api/models, /admin/api/audit
 *   GET  /admin/api/events          server-sent events
 *   GET|PATCH /admin/api/settings, PUT /admin/api/key (write-only), POST /admin/api/pause
 *   GET  /admin/api/access-requests[/:ref], POST /admin/api/access-requests/:ref/approve|deny
 *   POST /admin/api/login-links, POST /admin/api/logout, GET /admin/api/session
 *   POST /admin/api/session/claim   the login fragment's one-time claim → the session's key (no other credential)
 *   GET  /                          the dashboard (renderer/dist)
 */
import express, { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { asSidecarError, badRequest, notFound, SidecarError, toOpenAIBody, tooLarge, unauthorized, unsupportedMediaType } from '../core/errors.js';
import type { DB } from '../db/database.js';
import { audit } from '../db/records.js';
import type { DaemonServices } from '../pipeline/context.js';
import { accessRouter } from './access.js';
import { auditRouter } from './audit.js';
import { claimGuard, clearedCookie, cookieName, loopbackOnly, readCookie, requireAdmin, sessionCookie } from './auth.js';
import { ADMIN_ACTOR, type AdminContext, type AdminHooks } from './context.js';
import { FailedAuthLimiter } from '../pipeline/authenticate.js';
import { LiveHub, liveRouter } from './live.js';
import { ensureAdminSecret } from './secret.js';
import { consumeLoginNonce, createLoginNonce, Sessions, SESSION_TTL_MS } from './sessions.js';
import { seriesRouter } from './series.js';
import { settingsRouter } from './settings.js';
import { dashboard, findDashboardDir, securityHeaders } from './static.js';
import { statusRouter } from './status.js';
import { TokenEditor } from './token-edit.js';
import { tokensRouter } from './tokens.js';
import { spendRouter } from './spend.js';
import { usageRouter } from './usage.js';
import { TokenViews } from './views.js';

export { savedDefaultMaxTokens } from './settings.js';
export { createLoginNonce } from './sessions.js';
export { ensureAdminSecret, readAdminSecret, adminSecretPath } from './secret.js';

export interface AdminOptions extends AdminHooks {
  db: DB;
  deps: DaemonServices;
  dataDir: string;
  /** The port the daemon listens on: the dashboard's origin and the cookie's name. */
  port: number;
  /** Where the built dashboard is; default renderer/dist beside the code; null serves none. */
  dashboardDir?: string | null;
}

export interface AdminApp {
  /** The node:http handler for every non-/v1 request. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** How many dashboards are listening to live events. */
  readonly liveStreams: number;
}

const LOGIN_FAILED = `<!doctype html><meta charset="utf-8"><title>Login link not valid</title>
<h1>This login link is not valid</h1>
<p>It was already used, or it expired (links work once, for two minutes). Run <code>skillboss-sidecar open</code> for a new one.</p>\n`;

export function createAdminApp(opts: AdminOptions): AdminApp {
  const secret = ensureAdminSecret(opts.dataDir);
  const sessions = new Sessions(opts.db);
  const ctx: AdminContext = {
    ...opts,
    startedAt: Date.now(),
    views: new TokenViews(opts.db),
    editor: new TokenEditor(opts.db, opts.deps.tokens),
    sessions,
  };
  const { deps, db, port } = ctx;
  const hub = new LiveHub(ctx);

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((_req, res, next) => {
    securityHeaders(res);
    next();
  });

  app.use('/admin', loopbackOnly(port));
  app.get('/admin/login', (req: Request, res: Response) => {
    res.setHeader('cache-control', 'no-store');
    const nonce = typeof req.query.nonce === 'string' ? req.query.nonce : '';
    const now = deps.clock();
    if (!consumeLoginNonce(db, nonce, now)) {
      res.status(401).type('html').send(LOGIN_FAILED);
      return;
    }
    const s = sessions.create(now);
    audit(db, now, { actor: ADMIN_ACTOR, event: 'admin.login', detail: { via: 'link' } });
    res.setHeader('set-cookie', sessionCookie(port, s.id, SESSION_TTL_MS));
    // 303: the used nonce leaves the address bar. The session's one-time claim rides in the fragment, which
    // no request carries; the dashboard removes it from the URL and trades it for the session's key, once.
    res.redirect(303, `/#sbs-claim=${s.claim}`);
  });

  const api = Router();
  api.use((_req, res, next) => {
    res.setHeader('cache-control', 'no-store');
    next();
  });
  // Before requireAdmin: the session has no key until this trade. The cookie and the claim from the login
  // redirect's fragment give the key once; a second use of the same fragment gets nothing.
  const claimExpired = () => unauthorized('login_required', 'This sign-in link was already used, or it expired. Run `skillboss-sidecar open` for a new one.');
  // The cookie is checked before the body is read: without a session waiting for its claim, nobody holds a socket here.
  const claimWaiting: express.RequestHandler = (req, _res, next) => {
    const id = readCookie(req.headers.cookie, cookieName(port));
    if (id === undefined || !sessions.claimable(id, deps.clock())) throw claimExpired();
    next();
  };
  api.post('/session/claim', claimGuard(port), claimWaiting, express.json({ limit: '1kb', strict: true, type: 'application/json' }), (req, res) => {
    const claim = (req.body as { claim?: unknown } | undefined)?.claim;
    const id = readCookie(req.headers.cookie, cookieName(port));
    const key = typeof claim === 'string' && id !== undefined ? sessions.claim(id, claim, deps.clock()) : null;
    if (key === null) throw claimExpired();
    res.json({ key });
  });
  api.use(requireAdmin({ secret, sessions, clock: deps.clock, port, limiter: new FailedAuthLimiter(deps.limits.authFailuresPerMinute) }));
  api.use(express.json({ limit: '256kb', strict: true, type: 'application/json' }));
  api.get('/session', (req, res) => {
    res.json({ via: req.adminVia });
  });
  api.post('/logout', (req, res) => {
    if (req.adminSession) sessions.end(req.adminSession);
    res.setHeader('set-cookie', clearedCookie(port));
    res.json({ ok: true });
  });
  api.post('/login-links', (_req, res) => {
    const { nonce, expiresAt } = createLoginNonce(db, deps.clock());
    res.status(201).json({ url: `http://127.0.0.1:${port}/admin/login?nonce=${nonce}`, expires_at: new Date(expiresAt).toISOString() });
  });
  api.use(statusRouter(ctx));
  api.use(spendRouter(ctx));
  api.use('/tokens', tokensRouter(ctx));
  api.use('/access-requests', accessRouter(ctx));
  api.use(usageRouter(ctx));
  api.use(seriesRouter(ctx));
  api.use(auditRouter(ctx));
  api.use(liveRouter(hub));
  api.use(settingsRouter(ctx));
  api.use(() => {
    throw notFound('unknown_route', 'No such admin API route.');
  });
  app.use('/admin/api', api);

  app.use(...dashboard(opts.dashboardDir === undefined ? findDashboardDir() : opts.dashboardDir));
  app.use(() => {
    throw notFound('unknown_route', 'unknown route');
  });

  const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
    const e = err instanceof SidecarError ? err : fromExpress(err);
    if (e.status >= 500) deps.log.error({ err: e.cause ?? err }, 'admin API error');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(e.status).set(e.headers).json(toOpenAIBody(e));
  };
  app.use(onError);

  return {
    handle: (req, res) => {
      app(req as Request, res as Response, () => undefined);
    },
    get liveStreams() {
      return hub.size;
    },
  };
}

/** Errors raised by express and body-parser, with messages of our own (theirs can quote the body). */
function fromExpress(err: unknown): SidecarError {
  const e = err as { type?: string; status?: number };
  switch (e.type) {
    case 'entity.parse.failed':
      return badRequest('invalid_json', 'The request body is not valid JSON.');
    case 'entity.too.large':
      return tooLarge('The request body is too large for the admin API (256 KB at most).');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return unsupportedMediaType('Send the body as UTF-8 JSON.');
    default:
      if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return new SidecarError(e.status, 'invalid_request_error', 'bad_request', 'The request could not be read.');
      return asSidecarError(err);
  }
}
