/**
 * Structured logging (pino). Log lines are built from named fields we choose
 * — ids, routes, statuses, reasons — never from request headers or bodies,
 * and that is enforced, not hoped for: a field whose name is not in
 * LOG_FIELDS is written as "[redacted]" whatever its value, and every string
 * that is written is scrubbed of anything shaped like a key.
 *
 * Where lines go: `serve` writes JSON lines to <dataDir>/logs/sidecar.N.log
 * (rotated by size with pino-roll, owner-only) and, on a terminal, a
 * human-readable copy to stderr (pino-pretty); off a terminal stderr gets the
 * same JSON lines.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import pino, { type DestinationStream, type Logger, type StreamEntry } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { SonicBoom } from 'sonic-boom';
import type { RequestEvent, SidecarEvents } from './events.js';
import { envSetting } from './env.js';

// Loaded on first use: together ~150 ms of start-up (pino-roll pulls in date-fns) that `serve` without a
// terminal or a log file, the tests and the tray's attach mode never need.
const requireHere = createRequire(import.meta.url);
const loadPretty = (): typeof PinoPretty => requireHere('pino-pretty') as typeof PinoPretty;
const loadPinoRoll = () => requireHere('pino-roll') as (opts: Record<string, unknown>) => Promise<SonicBoom>;

export type { Logger };

const SECRET_SHAPES = /sk-[A-Za-z0-9_-]{8,}/g;

export function scrub(s: string): string {
  return s.replace(SECRET_SHAPES, (m) => `${m.slice(0, 3)}…${m.slice(-4)}`);
}

/**
 * The only field names whose values reach a log line. Each is an id, a
 * number, a state or a reason we wrote ourselves. Add a name here (with care)
 * to log a new field; anything else shows up as "[redacted]".
 */
export const LOG_FIELDS: ReadonlySet<string> = new Set([
  // pino's own
  'pid', 'hostname',
  // requests (the access log and pipeline errors)
  'requestId', 'request_id', 'tokenId', 'token_id', 'route', 'method', 'status', 'model', 'latency_ms', 'cost_micros',
  'prompt_tokens', 'completion_tokens', 'streamed', 'error_code', 'code', 'reason',
  // spend control (amounts and counts; never secrets)
  'cached_tokens', 'reasoning_tokens', 'threshold_micros',
  // the daemon and its upstream
  'url', 'host', 'port', 'dataDir', 'version', 'state', 'kind', 'detail', 'period', 'budget_micros', 'spent_micros',
  'upstream', 'reachable', 'balanceUsd', 'modelCount', 'attempt', 'delay_ms', 'duration_ms', 'count', 'signal',
  // token lifecycle (ids, names and dates; never secrets)
  'event', 'actor', 'name', 'scopes', 'parent_id', 'expires_at', 'old_key_expires_at', 'interval_days', 'next_at', 'file', 'path',
  // the tray app
  'mode', 'action',
]);

const REDACTED = '[redacted]';
const MAX_DEPTH = 4;

function clean(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return scrub(value);
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? REDACTED : value;
  if (depth >= MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => clean(v, depth + 1));
  return allowlisted(value as Record<string, unknown>, depth + 1);
}

/** The object with every non-allowlisted field's value replaced; `err` is left for its serializer. */
export function allowlisted(obj: Record<string, unknown>, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'err' && depth === 0) out.err = v;
    else out[k] = LOG_FIELDS.has(k) ? clean(v, depth) : REDACTED;
  }
  return out;
}

const errSerializer = (e: unknown) => {
  if (!(e instanceof Error)) return typeof e === 'string' ? scrub(e) : REDACTED;
  const code = (e as { code?: unknown }).code;
  return { type: e.name, message: scrub(e.message), code: typeof code === 'string' || typeof code === 'number' ? code : undefined };
};

function baseOptions(level: string): pino.LoggerOptions {
  return {
    level,
    hooks: {
      logMethod(this: Logger, args: Parameters<Logger['info']>, method: (...a: unknown[]) => void) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? scrub(a) : a)));
      },
    },
    serializers: { err: errSerializer },
    formatters: { log: (o) => allowlisted(o), bindings: (b) => allowlisted(b) },
  };
}

/** pino skips the bindings formatter for children, so child bindings are allowlisted here (grandchildren inherit this). */
function allowlistChildren(logger: Logger): Logger {
  const child = logger.child;
  logger.child = function allowlistedChild(this: Logger, bindings, options) {
    return child.call(this, allowlisted(bindings), options);
  } as Logger['child'];
  return logger;
}

export interface LoggerOptions {
  level?: string;
  /** Human-readable lines on the terminal stream instead of JSON. */
  pretty?: boolean;
  /** Terminal stream: a writable or a file descriptor (default 2, stderr); false for none. */
  destination?: NodeJS.WritableStream | number | false;
  /** A JSON log file opened by openLogFile(). */
  file?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? envSetting('SKILLBOSS_SIDECAR_LOG_LEVEL') ?? 'info';
  const streams: StreamEntry[] = [];
  if (opts.file) streams.push({ level: level as pino.Level, stream: opts.file });
  if (opts.destination !== false) {
    const dest = opts.destination ?? 2;
    const terminal: DestinationStream = opts.pretty
      ? loadPretty()({
          colorize: true,
          translateTime: 'SYS:HH:MM:ss',
          ignore: 'pid,hostname',
          destination: dest,
          sync: true,
        })
      : typeof dest === 'number'
        ? pino.destination(dest)
        : (dest as DestinationStream);
    streams.push({ level: level as pino.Level, stream: terminal });
  }
  if (streams.length === 1) return allowlistChildren(pino(baseOptions(level), streams[0]!.stream));
  return allowlistChildren(pino(baseOptions(level), pino.multistream(streams)));
}

export function silentLogger(): Logger {
  // A stream of its own that takes nothing: pino's default (a SonicBoom on stdout) would load node:worker_threads
  // and register an exit handler for a logger that never writes.
  return pino({ level: 'silent' }, { write() {} });
}

export interface LogFileOptions {
  /** Rotate when the current file reaches this size: a number of MiB, or '500k', '10m', '1g'. Default '10m'. */
  maxSize?: string | number;
  /** Rotated files kept besides the current one. Default 5. */
  keep?: number;
}

export type LogFile = SonicBoom;


/** The directory the daemon's JSON log files go to. */
export function logDir(dataDir: string): string {
  return join(dataDir, 'logs');
}

/**
 * Opens <dataDir>/logs/sidecar.N.log for JSON lines, rotated by size; the
 * directory is 0700 and each file 0600 (a log line is not a secret, but which
 * agents called what is nobody else's business).
 */
export async function openLogFile(dataDir: string, opts: LogFileOptions = {}): Promise<LogFile> {
  const dir = logDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const stream = await loadPinoRoll()({
    file: join(dir, 'sidecar'),
    extension: '.log',
    size: opts.maxSize ?? '10m',
    // With removeOtherLogFiles, pino-roll's count includes the current file (unlike without it).
    limit: { count: (opts.keep ?? 5) + 1, removeOtherLogFiles: true },
    symlink: true,
    mode: 0o600,
  });
  // Opened before anything is logged, so a flush at shutdown never meets a half-open file.
  if ((stream as unknown as { fd: number }).fd < 0) await once(stream, 'ready');
  // A full or read-only disk must not take the daemon down; say so once on stderr.
  let warned = false;
  stream.on('error', (err: Error) => {
    if (!warned) process.stderr.write(`skillboss-sidecar: cannot write the log file in ${dir}: ${scrub(err.message)}\n`);
    warned = true;
  });
  return stream;
}

/** One access-log line per settled request (the same row the ledger gets), at info. */
export function logRequests(events: SidecarEvents, log: Logger): () => void {
  const onRequest = (ev: RequestEvent): void => {
    log.info(
      {
        request_id: ev.request_id,
        token_id: ev.token_id,
        route: ev.route,
        model: ev.model,
        status: ev.status,
        latency_ms: Math.round(ev.latency_ms),
        cost_micros: ev.cost_micros,
        prompt_tokens: ev.prompt_tokens,
        completion_tokens: ev.completion_tokens,
        streamed: ev.streamed,
        error_code: ev.error_code,
      },
      'request',
    );
  };
  events.on('request', onRequest);
  return () => events.off('request', onRequest);
}
