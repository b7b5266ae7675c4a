/**
 * A deliberately fast fake SkillBoss upstream for the benchmark (plain
 * node:http, no simulator bookkeeping), so the numbers measure the proxies in
 * front of it and not the upstream:
 *   POST /v1/chat/completions         a fixed chat.completion with usage, serialised once;
 *   ... with "stream": true           --chunks SSE chunks, --chunk-delay ms apart (the first at once),
 *                                     then a usage chunk when stream_options.include_usage is set, then [DONE];
 *   GET /v1/models, GET /v1/balance   so the sidecar's start-up sync finds prices and a balance.
 * Usage: node dist/bench/upstream.js [--port 0] [--chunks 10] [--chunk-delay 20]
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { announce, argOf, BENCH_MODEL } from './common.js';

const CHUNKS = Number(argOf('chunks', '10'));
const CHUNK_DELAY_MS = Number(argOf('chunk-delay', '20'));
const CREATED = Math.floor(Date.now() / 1000);
const USAGE = { prompt_tokens: 27, completion_tokens: 9, total_tokens: 36 };

const CHAT = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: CREATED,
    model: BENCH_MODEL,
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today?' }, logprobs: null, finish_reason: 'stop' }],
    usage: USAGE,
    system_fingerprint: 'fp_bench',
  }),
);
const MODELS = Buffer.from(
  JSON.stringify({ object: 'list', data: [{ id: BENCH_MODEL, object: 'model', created: CREATED, owned_by: 'bench', pricing: { prompt: 0.15, completion: 0.6 } }] }),
);
const BALANCE = Buffer.from(JSON.stringify({ balance: 1_000_000 }));
const NOT_FOUND = Buffer.from(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error', code: 'not_found' } }));

function chunk(i: number): string {
  const last = i === CHUNKS - 1;
  const delta = i === 0 ? { role: 'assistant', content: '' } : { content: `tok${i} ` };
  const obj = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: CREATED, model: BENCH_MODEL, choices: [{ index: 0, delta, finish_reason: last ? 'stop' : null }] };
  return `data: ${JSON.stringify(obj)}\n\n`;
}
const STREAM_CHUNKS = Array.from({ length: CHUNKS }, (_, i) => chunk(i));
const USAGE_CHUNK = `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: CREATED, model: BENCH_MODEL, choices: [], usage: USAGE })}\n\n`;

function send(res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

function stream(res: ServerResponse, includeUsage: boolean): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let i = 0;
  const next = () => {
    if (res.destroyed) return;
    res.write(STREAM_CHUNKS[i]!);
    i++;
    if (i < CHUNKS) {
      setTimeout(next, CHUNK_DELAY_MS);
      return;
    }
    res.end(`${includeUsage ? USAGE_CHUNK : ''}data: [DONE]\n\n`);
  };
  next();
}

/** The answer to a big prompt reports big usage (a UTF-8 byte is at least a quarter of a token), as a real upstream would. */
function chatFor(bytes: number): Buffer {
  if (bytes < 64 * 1024) return CHAT;
  const prompt = Math.ceil(bytes / 4);
  return Buffer.from(CHAT.toString('utf8').replace(JSON.stringify(USAGE), JSON.stringify({ prompt_tokens: prompt, completion_tokens: 9, total_tokens: prompt + 9 })));
}

function chat(req: IncomingMessage, res: ServerResponse): void {
  const parts: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    parts.push(c);
    size += c.length;
  });
  req.on('end', () => {
    // Parsed like a real upstream would (it must read the prompt), for every target alike.
    let body: { stream?: unknown; stream_options?: { include_usage?: unknown } | null };
    try {
      body = JSON.parse(Buffer.concat(parts, size).toString('utf8')) as typeof body;
    } catch {
      send(res, 400, NOT_FOUND);
      return;
    }
    if (body.stream === true) stream(res, body.stream_options?.include_usage === true);
    else send(res, 200, chatFor(size));
  });
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const q = req.url?.indexOf('?') ?? -1;
  const path = q === -1 ? req.url : req.url!.slice(0, q);
  if (req.method === 'POST' && path === '/v1/chat/completions') return chat(req, res);
  req.resume();
  if (req.method === 'GET' && path === '/v1/models') return send(res, 200, MODELS);
  if (req.method === 'GET' && path === '/v1/balance') return send(res, 200, BALANCE);
  send(res, 404, NOT_FOUND);
});
server.listen(Number(argOf('port', '0')), '127.0.0.1', () => {
  announce(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
