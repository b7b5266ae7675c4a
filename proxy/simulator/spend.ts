/** The one check before a simulated call is charged. */
import type { Call } from './context.js';
import { checkCap } from './real.js';

/** Refuses (402) a call costing `micros`: above the caller's X-Max-Cost-Usd (real dialect), or past the balance or a key budget. */
export function checkSpend(call: Call, micros: number): void {
  checkCap(call, micros);
  call.ctx.state.checkSpend(call.caller.key, micros);
}
