/**
 * `GET /metrics`: the Prometheus exposition, for a scraper on this machine.
 * Off unless the human turned it on (`serve --metrics`, or the setting
 * `metrics_enabled`); answered only to loopback peers; admin-authenticated
 * with the admin secret as a bearer token (Prometheus: `authorization:
 * { credentials_file: <dataDir>/admin-secret }`). Agent tokens never work here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { forbidden, internalError, methodNotAllowed, notFound, SidecarError, unauthorized } from '../core/errors.js';
import { sendError } from '../pipeline/respond.js';
import { TOKEN_PREFIX } from '../tokens/format.js';
import type { SidecarMetrics, MetricsDeps } from './registry.js';

export const METRICS_SETTING = 'metrics_enabled';

export interface MetricsRouteOptions {
  enabled: boolean;
  deps: MetricsDeps;
  /**
   * Whether a presented bearer secret is the admin secret (read per scrape, so
   * a replaced secret file takes effect at once); throws when there is none
   * yet. Handed in by the daemon, which owns the admin secret.
   */
  isAdminSecret(presented: string): boolean;
}

export interface MetricsRoute {
  /** True for the request targets this route answers. */
  matches(url: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse): void;
  close(): void;
}

export function isLoopbackPeer(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

function checkAdmin(req: IncomingMessage, isAdminSecret: (presented: string) => boolean): SidecarError | null {
  const header = req.headers.authorization;
  const m = header === undefined ? null : /^Bearer (.{1,512})$/.exec(header);
  const presented = m?.[1]?.trim() ?? '';
  if (presented.startsWith(TOKEN_PREFIX)) return forbidden('agent_token_not_admin', 'Agent tokens never grant access to /metrics; send the admin secret.');
  let matches: boolean;
  try {
    // The secret is looked for first, so a scrape of a sidecar without one is told so.
    matches = isAdminSecret(presented) && presented !== '';
  } catch {
    return unauthorized('admin_secret_missing', 'This sidecar has no admin secret yet; start the daemon once to create <data dir>/admin-secret.');
  }
  if (!matches) {
    return unauthorized('invalid_admin_secret', 'Send the admin secret (the admin-secret file in the data dir) as "Authorization: Bearer …".');
  }
  return null;
}

export async function createMetricsRoute(opts: MetricsRouteOptions): Promise<MetricsRoute> {
  // Nothing listens to the events while metrics are off, so the request path pays nothing for them;
  // prom-client is not even loaded (~60 ms of start-up).
  const metrics: SidecarMetrics | null = opts.enabled ? new (await import('./registry.js')).SidecarMetrics(opts.deps) : null;
  return {
    matches: (url) => url === '/metrics' || url.startsWith('/metrics?'),
    handle(req, res) {
      if (!metrics) {
        return sendError(res, notFound('metrics_disabled', 'Metrics are off. Start the daemon with `skillboss-sidecar serve --metrics` to serve /metrics.'));
      }
      if (!isLoopbackPeer(req.socket.remoteAddress)) return sendError(res, forbidden('metrics_loopback_only', '/metrics is only served to this machine.'));
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return sendError(res, methodNotAllowed('Use GET /metrics.', 'GET, HEAD'));
      }
      const refusal = checkAdmin(req, opts.isAdminSecret);
      if (refusal) {
        if (refusal.status === 401) res.setHeader('www-authenticate', 'Bearer realm="skillboss-sidecar"');
        return sendError(res, refusal);
      }
      metrics.text().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : text);
        },
        (err: unknown) => {
          opts.deps.log.error({ err }, 'collecting metrics failed');
          sendError(res, internalError('metrics_failed', 'Could not collect metrics; see the daemon log.'));
        },
      );
    },
    close() {
      metrics?.close();
    },
  };
}
