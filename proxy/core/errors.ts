/**
 * One error family for everything an agent or admin can be refused for.
 * Each error carries its HTTP status and a stable code; `toOpenAIBody` is the
 * only place the OpenAI error envelope is built.
 */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'insufficient_quota'
  | 'rate_limit_error'
  | 'not_found_error'
  | 'upstream_error'
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
export const forbidden = (code: string, message: string) =>
  new SidecarError(403, 'permission_error', code, message);
export const notFound = (code: string, message: string) =>
  new SidecarError(404, 'not_found_error', code, message);
export const tooLarge = (message: string) =>
  new SidecarError(413, 'invalid_request_error', 'body_too_large', message);
export const rateLimited = (code: string, message: string, retryAfterSeconds: number) =>
  new SidecarError(429, 'rate_limit_error', code, message, {
    headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
  });
export const badGateway = (code: string, message: string, cause?: unknown) =>
  new SidecarError(502, 'upstream_error', code, message, { cause });
export const gatewayTimeout = (code: string, message: string, cause?: unknown) =>
  new SidecarError(504, 'upstream_error', code, message, { cause });
export const unavailable = (code: string, message: string, retryAfterSeconds?: number) =>
  new SidecarError(503, 'service_unavailable', code, message,
    retryAfterSeconds ? { headers: { 'retry-after': String(retryAfterSeconds) } } : {});

export interface OpenAIErrorBody {
  error: { message: string; type: string; code: string; param: string | null; details?: Record<string, string> };
}

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
  return new SidecarError(500, 'upstream_error', 'internal_error',
    'The sidecar hit an internal error. The request was not forwarded; check the daemon log.', { cause: err });
}
