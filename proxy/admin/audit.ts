/** `/admin/api/audit`: the append-only audit log, newest first, filtered, paginated by id. */
import { Router } from 'express';
import * as z from 'zod';
import type { AdminContext } from './context.js';
import { parseInput } from './validate.js';

const auditQuery = z.strictObject({
  token: z.string().max(40).optional(),
  event: z.string().max(60).regex(/^[a-z_.*-]*$/, 'expected an event name such as token.create or token.*').optional(),
  before: z.coerce.number().int().positive('must be a positive audit id').optional(),
  limit: z.coerce.number().int().min(1, 'at least 1').max(500, 'at most 500').default(100),
});

export function auditRouter(ctx: AdminContext): Router {
  const r = Router();
  r.get('/audit', (req, res) => {
    const q = parseInput(auditQuery, req.query, 'query');
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.token) {
      where.push('token_id = ?');
      args.push(q.token);
    }
    if (q.event) {
      // `token.*` matches every token event; `_` and `%` are not wildcards here.
      where.push("event LIKE ? ESCAPE '\\'");
      args.push(q.event.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%'));
    }
    if (q.before !== undefined) {
      where.push('id < ?');
      args.push(q.before);
    }
    const rows = ctx.db
      .prepare(`SELECT id, ts, actor, event, token_id, detail FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`)
      .all(...args, q.limit + 1) as Array<{ id: number; ts: number; actor: string; event: string; token_id: string | null; detail: string }>;
    const page = rows.slice(0, q.limit).map((x) => ({ ...x, ts: new Date(x.ts).toISOString(), detail: JSON.parse(x.detail) as unknown }));
    res.json({ data: page, next_before: rows.length > q.limit ? page.at(-1)!.id : null });
  });
  return r;
}
