/**
 * Reference pass-through proxies, the floor any Node proxy stands on: no
 * auth, no metering, just method, path, headers and body to the upstream over
 * keep-alive connections, and the response piped back as it arrives.
 *   bare        node:http server + node:http client with a keep-alive Agent
 *   http-proxy  node:http server + http-proxy (the design card's choice)
 *   undici      node:http server + an undici Pool (what proxy/pipeline/upstream.ts uses)
 * Usage: node dist/bench/passthrough.js --mode bare|http-proxy|undici --upstream http://127.0.0.1:PORT
 */
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import httpProxy from 'http-proxy';
import { Pool, type Dispatcher } from 'undici';
import { announce, argOf } from './common.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);

function fail(res: ServerResponse): void {
  if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
  res.end();
}

function bare(upstream: URL): Handler {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  return (req, res) => {
    const up = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => fail(res));
    req.pipe(up);
  };
}

function viaHttpProxy(upstream: URL): Handler {
  const proxy = httpProxy.createProxyServer({ target: upstream.origin, agent: new Agent({ keepAlive: true, maxSockets: 256 }) });
  proxy.on('error', (_err, _req, res) => {
    if ('writeHead' in res) fail(res);
  });
  return (req, res) => proxy.web(req, res);
}

function strip(h: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

function viaUndici(upstream: URL): Handler {
  const pool = new Pool(upstream.origin, { connections: 256, keepAliveTimeout: 30_000 });
  return (req, res) => {
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    pool
      .request({ method: req.method as Dispatcher.HttpMethod, path: req.url ?? '/', headers: strip(req.headers), body: hasBody ? req : null })
      .then(
        (up) => {
          res.writeHead(up.statusCode, strip(up.headers));
          up.body.pipe(res);
        },
        () => fail(res),
      );
  };
}

const mode = argOf('mode', 'bare');
const upstream = new URL(argOf('upstream', 'http://127.0.0.1:1'));
const handlers: Record<string, (u: URL) => Handler> = { bare, 'http-proxy': viaHttpProxy, undici: viaUndici };
const make = handlers[mode];
if (!make) throw new Error(`unknown --mode ${mode}; use bare, http-proxy or undici`);

const server = createServer({ keepAliveTimeout: 60_000 }, make(upstream));
server.listen(0, '127.0.0.1', () => announce(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
