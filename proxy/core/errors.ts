/**
 * One error family for everything an agent or admin can be refused for.
 * Each error carries its HTTP status and a stable code; `toOpenAIBody` is the
 * only place the OpenAI error envelope is built, for JSON answers, SSE error
 * events and the admin live feed alike. Build errors with the constructors
 * below rather than `new SidecarError`, so a status always has its type.
 */
import type { ErrorBody } from '../../wire/errors.js';

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'insufficient_quota'
  | 'rate_limit_error'
  | 'not_found_error'
  | 'upstream_error'
  /** The sidecar's own fault (a bug, a failed collector): not the upstream's, so not `upstream_error`. */
  | 'server_error'
  | 'service_unavailable';

export class SidecarError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly code: string;
  readonly headers: Record<string, string>;
  /** Field-level details for validation errors (never secrets). */
  readonly details: Record<string, string> | undefined;

  constructor(
    status: number,
    type: ErrorType,
    code: string,
    message: string,
    opts: { headers?: Record<string, string>; details?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SidecarError';
    this.status = status;
    this.type = type;
    this.code = code;
    this.headers = opts.headers ?? {};
    this.details = opts.details;
  }
}

export const badRequest = (code: string, message: string, details?: Record<string, string>) =>
  new SidecarError(400, 'invalid_request_error', code, message, details ? { details } : {});
export const unauthorized = (code: string, message: string) =>
  new SidecarError(401, 'authentication_error', code, message);
export const paymentRequired = (code: string, message: string) =>
  new SidecarError(402, 'insufficient_quota', code, message);
export const forbidden = (code: string, message: string, details?: Record<string, string>) =>
  new SidecarError(403, 'permission_error', code, message, details ? { details } : {});
export const notFound = (code: string, message: string) =>
  new SidecarError(404, 'not_found_error', code, message);
export const methodNotAllowed = (message: string, allow: string) =>
  new SidecarError(405, 'invalid_request_error', 'method_not_allowed', message, { headers: { allow } });
export const conflict = (code: string, message: string) =>
  new SidecarError(409, 'invalid_request_error', code, message);
export const gone = (code: string, message: string) =>
  new SidecarError(410, 'invalid_request_error', code, message);
export const tooLarge = (message: string) =>
  new SidecarError(413, 'invalid_request_error', 'body_too_large', message);
export const unsupportedMediaType = (message: string) =>
  new SidecarError(415, 'invalid_request_error', 'unsupported_media_type', message);
export const rateLimited = (code: string, message: string, retryAfterSeconds: number) =>
  new SidecarError(429, 'rate_limit_error', code, message, {
    headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
  });
export const badGateway = (code: string, message: string, cause?: unknown) =>
  new SidecarError(502, 'upstream_error', code, message, { cause });
export const gatewayTimeout = (code: string, message: string, cause?: unknown) =>
  new SidecarError(504, 'upstream_error', code, message, { cause });
export const internalError = (code: string, message: string, cause?: unknown) =>
  new SidecarError(500, 'server_error', code, message, { cause });
export const unavailable = (code: string, message: string, retryAfterSeconds?: number) =>
  new SidecarError(503, 'service_unavailable', code, message,
    retryAfterSeconds ? { headers: { 'retry-after': String(retryAfterSeconds) } } : {});

/** The envelope's shape is the wire project's, so the dashboard and CLI read what this writes. */
export type OpenAIErrorBody = ErrorBody;

export function toOpenAIBody(err: SidecarError): OpenAIErrorBody {
  const body: OpenAIErrorBody = { error: { message: err.message, type: err.type, code: err.code, param: null } };
  if (err.details) {
    body.error.details = err.details;
    const first = Object.keys(err.details)[0];
    if (first) body.error.param = first;
  }
  return body;
}

/** Any thrown value as a SidecarError; unknown errors become a generic 500 without leaking their text. */
export function asSidecarError(err: unknown): SidecarError {
  if (err instanceof SidecarError) return err;
  const storage = storageError(err);
  if (storage) return storage;
  return internalError('internal_error', 'The sidecar hit an internal error. The request was not forwarded; check the daemon log.', err);
}

const STORAGE_CODES = ['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_PERM', 'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_BUSY', 'SQLITE_LOCKED'];

/**
 * SQLite failures the human can fix (disk full, read-only or vanished data
 * dir, a damaged file) as a 503 that says so. The request is refused either
 * way: nothing is forwarded that could not be metered.
 */
function storageError(err: unknown): SidecarError | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return null;
  // Extended codes (SQLITE_IOERR_WRITE, SQLITE_READONLY_DBMOVED, …) belong to their primary code's family.
  const base = STORAGE_CODES.find((c) => code === c || code.startsWith(`${c}_`));
  const say = (c: string, what: string) =>
    new SidecarError(503, 'service_unavailable', c, `The sidecar cannot record usage (${what}), so it refuses requests rather than forward them unmetered. The human running it must fix this (skillboss-sidecar doctor).`, {
      headers: { 'retry-after': '30' },
      cause: err,
    });
  switch (base) {
    case 'SQLITE_FULL':
      return say('storage_full', 'the disk holding its data dir is full');
    case 'SQLITE_READONLY':
    case 'SQLITE_CANTOPEN':
    case 'SQLITE_IOERR':
    case 'SQLITE_PERM':
      return say('storage_unavailable', 'its data dir cannot be written');
    case 'SQLITE_CORRUPT':
    case 'SQLITE_NOTADB':
      return say('storage_corrupt', 'its database file is damaged');
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return say('storage_busy', 'its database is locked by another program');
    default:
      return null;
  }
}
