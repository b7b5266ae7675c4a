/**
 * The daemon's dispatcher: every request passes the guards (loopback Host,
 * Origin, CORS), then goes by path to the agent pipeline (/v1), the health
 * check, skill.md, /metrics, or the admin API and dashboard, which load on
 * their first request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { asSidecarError, unavailable } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { VERSION } from '../core/version.js';
import { sendSkill } from '../access/skill.js';
import type { AdminApp } from '../admin/index.js';
import type { MetricsRoute } from '../metrics/route.js';
import type { StageDeps } from '../pipeline/context.js';
import { handleAgentRequest } from '../pipeline/handler.js';
import { sendError, sendJson } from '../pipeline/respond.js';
import type { Guards } from './guards.js';

export interface RouterOptions {
  deps: StageDeps;
  log: Logger;
  /** The guards now (they are rebuilt when the allowed origins change). */
  guards: () => Guards;
  /** Why the database is not trusted with metering (a failed integrity check), or null. */
  storageProblem: () => string | null;
  metrics: MetricsRoute;
  /** The admin app once loaded, else null. */
  admin: () => AdminApp | null;
  loadAdmin: () => Promise<AdminApp>;
}

export function createRouter(o: RouterOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { deps, log, metrics } = o;
  return (req, res) => {
    const refusal = o.guards().check(req);
    if (refusal) {
      res.setHeader('connection', 'close');
      return sendError(res, refusal);
    }
    if (o.guards().cors(req, res)) return;
    const url = req.url ?? '/';
    if (url.startsWith('/v1/') || url === '/v1') {
      // A database that failed its background integrity check is not trusted with metering.
      if (o.storageProblem()) return sendError(res, unavailable('storage_corrupt', 'The sidecar\'s database is damaged, so it will not meter or forward requests. The human running it must restore the data dir (skillboss-sidecar doctor).'));
      handleAgentRequest(req, res, deps).catch((err: unknown) => {
        log.error({ err }, 'unhandled error in the agent pipeline');
        sendError(res, asSidecarError(err));
      });
      return;
    }
    if (url === '/healthz' && req.method === 'GET') {
      return sendJson(res, 200, { ok: true, version: VERSION, key: deps.key.status().state, paused: deps.paused() });
    }
    if (url === '/skill.md' && (req.method === 'GET' || req.method === 'HEAD')) return sendSkill(req, res);
    if (metrics.matches(url)) return metrics.handle(req, res);
    // Everything else (the admin API, the dashboard, and 404s) goes to the admin app.
    const admin = o.admin();
    if (admin) return admin.handle(req, res);
    o.loadAdmin().then(
      (a) => a.handle(req, res),
      (err: unknown) => {
        log.error({ err }, 'the admin API could not be loaded');
        sendError(res, asSidecarError(err));
      },
    );
  };
}
