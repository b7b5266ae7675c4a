/**
 * `/admin/api/events`: server-sent events for the dashboard — each request as
 * it is settled, budget crossings, rotations, upstream status changes, and
 * access requests from agents (created, approved, denied, expired).
 *
 * One hub subscribes to the daemon's emitter while at least one dashboard is
 * listening and fans out to every stream; with no dashboard open it holds no
 * listener, so the agent path skips building request events entirely.
 */
import { Router, type Response } from 'express';
import { toOpenAIBody, unavailable } from '../core/errors.js';
import type { RequestEvent, SidecarEventMap } from '../core/events.js';
import { microsToUsd } from '../core/money.js';
import type { AdminContext } from './context.js';

const HEARTBEAT_MS = 15_000;
const MAX_STREAMS = 32;

/** The kinds the dashboard shows; other kinds on the emitter are not forwarded until listed here. */
type Kind = Extract<keyof SidecarEventMap, 'request' | 'budget' | 'upstream' | 'rotation' | 'access_request'>;

export class LiveHub {
  private readonly streams = new Set<Response>();
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly handlers: { [K in Kind]: (...args: SidecarEventMap[K]) => void };

  constructor(private readonly ctx: AdminContext) {
    this.handlers = {
      request: (e) => this.send('request', this.requestJson(e)),
      budget: (e) => this.send('budget', { ...e, spent_usd: microsToUsd(e.spent_micros), budget_usd: microsToUsd(e.budget_micros), token_name: this.nameOf(e.token_id) }),
      upstream: (e) => this.send('upstream', e),
      rotation: (e) => this.send('rotation', { ...e, token_name: this.nameOf(e.token_id) }),
      // Ids, the agent's name and the code to compare: nothing that collects a token (the poll secret is never in the event).
      access_request: (e) => this.send('access_request', e),
    };
  }

  get size(): number {
    return this.streams.size;
  }

  add(res: Response): boolean {
    if (this.streams.size >= MAX_STREAMS) return false;
    if (this.streams.size === 0) this.subscribe();
    this.streams.add(res);
    res.on('close', () => {
      this.streams.delete(res);
      if (this.streams.size === 0) this.unsubscribe();
    });
    return true;
  }

  private subscribe(): void {
    const ev = this.ctx.deps.events;
    for (const k of Object.keys(this.handlers) as Kind[]) ev.on(k, this.handlers[k] as never);
    this.heartbeat = setInterval(() => {
      for (const s of this.streams) s.write(': ping\n\n');
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private unsubscribe(): void {
    const ev = this.ctx.deps.events;
    for (const k of Object.keys(this.handlers) as Kind[]) ev.off(k, this.handlers[k] as never);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private send(kind: Kind, data: unknown): void {
    const frame = `event: ${kind}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const s of this.streams) s.write(frame);
  }

  private nameOf(id: string): string | null {
    return this.ctx.deps.tokens.get(id)?.name ?? null;
  }

  private requestJson(e: RequestEvent) {
    const { cost_micros, ts, ...rest } = e;
    return { ...rest, ts: new Date(ts).toISOString(), cost_usd: microsToUsd(cost_micros), token_name: this.nameOf(e.token_id) };
  }
}

export function liveRouter(hub: LiveHub): Router {
  const r = Router();
  r.get('/events', (req, res) => {
    if (!hub.add(res)) {
      res.status(503).json(toOpenAIBody(unavailable('too_many_streams', 'Too many dashboards are listening; close one.')));
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
    });
    res.flushHeaders();
    res.write('retry: 2000\n\n: connected\n\n');
    req.socket.setNoDelay(true);
  });
  return r;
}
