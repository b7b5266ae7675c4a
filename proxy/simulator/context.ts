/** Shared per-simulator context and per-request call types. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Faults } from './faults.js';
import { badRequest, SimError, usd, type JsonObject } from './http.js';
import { findModel, type SimModel } from './models.js';
import type { Caller, SimState } from './state.js';

/** Which SkillBoss the simulator answers as: the seed page's, or the real service's (real.ts). */
export type SimDialect = 'seed' | 'real';

export interface RecordedRequest {
  method: string;
  /** Raw URL including the query string. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  ts: number;
}

export interface SimContext {
  readonly state: SimState;
  readonly clock: () => number;
  readonly reportCost: boolean;
  /** Which SkillBoss the simulator answers as (real.ts). */
  readonly dialect: SimDialect;
  /** Below this balance the real dialect adds `_balance_warning` to answers. */
  readonly lowBalanceMicros: number;
  /** GET /v1/models lists the run models too (run.ts). */
  readonly listRunModels: boolean;
  faults: Faults;
  readonly requests: RecordedRequest[];
  readonly record: boolean;
  readonly maxRecorded: number;
  /** Abort functions of open streams, hung requests and pending delays; run by close(). */
  readonly active: Set<() => void>;
  seq: number;
  closed: boolean;
}

export interface Call {
  readonly ctx: SimContext;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly body: string;
  readonly caller: Caller;
  /** Decoded path parameters of the matched route. */
  readonly params: readonly string[];
}

export function nextSeq(ctx: SimContext): number {
  return ++ctx.seq;
}

export function nowSeconds(ctx: SimContext): number {
  return Math.floor(ctx.clock() / 1000);
}

/** The model named by `b.model` (required string); 400 if missing, 404 if unknown. */
export function requireModel(b: JsonObject): SimModel {
  const id = b.model;
  if (typeof id !== 'string' || id === '') throw badRequest('model must be a non-empty string', 'invalid_model');
  const m = findModel(id);
  if (!m) throw modelNotFound(id);
  return m;
}

export function modelNotFound(id: string): SimError {
  return new SimError(404, 'invalid_request_error', 'model_not_found', `The model '${id}' does not exist or you do not have access to it`);
}

/** Response headers announcing the charged cost, when reportCost is on. */
export function costHeaders(ctx: SimContext, micros: number): Record<string, string> | undefined {
  return ctx.reportCost ? { 'x-skillboss-cost': String(usd(micros)) } : undefined;
}

/** `usage` with `cost` (USD) added when reportCost is on; undefined when the omitUsage fault is set. */
export function usageOf<T extends object>(ctx: SimContext, usage: T, micros: number): (T & { cost?: number }) | undefined {
  if (ctx.faults.omitUsage) return undefined;
  return ctx.reportCost ? { ...usage, cost: usd(micros) } : usage;
}

