/**
 * Errors on the Messages routes in Anthropic's shape,
 * `{"type":"error","error":{"type","message"}}`, so Anthropic clients raise
 * their own error classes (AuthenticationError, PermissionDeniedError, …) and
 * Claude Code shows the message. The status stays the sidecar's; the
 * sidecar's stable code rides along in `error.code` for scripts.
 */
import type { SidecarError } from '../core/errors.js';

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'billing_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'timeout_error'
  | 'api_error'
  | 'overloaded_error';

/** Anthropic's error type for an HTTP status (its documented pairs; anything else 4xx is an invalid request). */
export function anthropicErrorType(status: number): AnthropicErrorType {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    case 504:
      return 'timeout_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: AnthropicErrorType; message: string; code: string; details?: Record<string, string> };
  request_id?: string;
}

export function toAnthropicBody(err: SidecarError, requestId?: string): AnthropicErrorBody {
  const body: AnthropicErrorBody = { type: 'error', error: { type: anthropicErrorType(err.status), message: err.message, code: err.code } };
  if (err.details) body.error.details = err.details;
  if (requestId) body.request_id = requestId;
  return body;
}
