/**
 * /_sim/* control routes for tests and demos running the simulator in another
 * process. No auth, never recorded.
 *
 *   GET    /_sim/faults     current fault settings
 *   POST   /_sim/faults     merge a JSON patch into them (null removes a setting)
 *   POST   /_sim/reset      clear faults and recorded requests
 *   GET    /_sim/requests   recorded requests (JSON array)
 *   DELETE /_sim/requests   clear recorded requests
 *   GET    /_sim/state      {balance_micros, balance_usd, admin_key, clock}
 *   POST   /_sim/balance    {usd} sets the account balance
 *   POST   /_sim/advance    {ms} moves the simulator clock forward
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimContext } from './context.js';
import { clearFaults, mergeFaults } from './faults.js';
import { badRequest, notFound, parseObject, readBody, sendError, sendJson, SimError } from './http.js';

export interface ControlHooks {
  advanceClock(ms: number): void;
}

export async function handleControl(ctx: SimContext, hooks: ControlHooks, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const route = `${req.method} ${q < 0 ? url : url.slice(0, q)}`;
    const raw = readBody(req);
    const body = typeof raw === 'string' ? raw : await raw;
    switch (route) {
      case 'GET /_sim/faults':
        return sendJson(res, 200, ctx.faults);
      case 'POST /_sim/faults': {
        const err = mergeFaults(ctx.faults, parseObject(body));
        if (err) throw badRequest(err, 'invalid_faults');
        return sendJson(res, 200, ctx.faults);
      }
      case 'POST /_sim/reset':
        clearFaults(ctx.faults);
        ctx.requests.length = 0;
        return sendJson(res, 200, { ok: true });
      case 'GET /_sim/requests':
        return sendJson(res, 200, ctx.requests);
      case 'DELETE /_sim/requests':
        ctx.requests.length = 0;
        return sendJson(res, 200, { ok: true });
      case 'GET /_sim/state':
        return sendJson(res, 200, {
          balance_micros: ctx.state.balanceMicros,
          balance_usd: ctx.state.balanceMicros / 1e6,
          admin_key: ctx.state.admin.secret,
          clock: ctx.clock(),
        });
      case 'POST /_sim/balance': {
        const v = parseObject(body).usd;
        if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest('usd must be a number', 'invalid_value');
        ctx.state.balanceMicros = Math.round(v * 1_000_000);
        return sendJson(res, 200, { balance_micros: ctx.state.balanceMicros });
      }
      case 'POST /_sim/advance': {
        const ms = parseObject(body).ms;
        if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw badRequest('ms must be a non-negative number', 'invalid_value');
        hooks.advanceClock(ms);
        return sendJson(res, 200, { clock: ctx.clock() });
      }
      default:
        throw notFound(`Unknown simulator control route ${route}`);
    }
  } catch (e) {
    sendError(res, e instanceof SimError ? e : new SimError(500, 'api_error', 'server_error', String(e)));
  }
}
