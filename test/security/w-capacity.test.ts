/**
 * Issue 25 item 9: one process must not lock the human out. With one pool of
 * `--max-connections` sockets, a process holding trickling sockets (a request
 * head sent in part, never finished) made every admin API and dashboard
 * request fail. Now the admin API and dashboard have a reserve the agents'
 * pool cannot take, pending sockets are capped per client address (all of
 * loopback is one), and an unauthenticated client keeps no socket after its
 * answer. Real sockets; the attacker runs in this process, against the real
 * daemon.
 */
import { Agent, request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { adminSecret } from './kit.js';

const CAP = 8; // --max-connections: the agents' pool; the reserve is 8, pending per address 4 (capacityFor)
let s: Stack;
let agent: string;

beforeAll(async () => {
  s = await startStack({ daemon: { limits: { maxConnections: CAP, keepAliveTimeoutMs: 60_000 } } });
  agent = s.token({ preset: 'write' }).secret;
});
afterAll(async () => {
  await s?.close();
});

/** One request on a fresh socket; status 0 when the daemon closed it without an answer. */
function get(path: string, headers: Record<string, string>, agentOpt: Agent | false = false): Promise<{ status: number; connection: string | undefined; code?: string }> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port: s.daemon.port, path, headers, agent: agentOpt }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, code: /"code":"([a-z_]+)"/.exec(body)?.[1] }));
    });
    req.on('error', () => resolve({ status: 0, connection: undefined }));
    req.end();
  });
}

/** A trickler: connects and sends half a request head, then nothing. Resolves once connected. */
function trickle(onClose: () => void): Promise<Socket> {
  return new Promise((resolve) => {
    const sock = connect(s.daemon.port, '127.0.0.1');
    sock.on('error', () => undefined);
    sock.once('close', onClose);
    sock.once('connect', () => {
      sock.write(`GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:${s.daemon.port}\r\nX-Slow: `);
      resolve(sock);
    });
  });
}

describe('W. the human always gets in (issue 25 item 9)', () => {
  it('W1 agents holding the whole pool and a process trickling 40 sockets (reconnecting whenever one is closed): 20 of 20 admin API and 20 of 20 dashboard requests answered, a new agent socket is refused, the per-address cap holds the trickler to 4', async () => {
    // A token holder fills the agents' pool with kept-alive sockets.
    const keep = new Agent({ keepAlive: true, maxSockets: CAP });
    const filled = await Promise.all(Array.from({ length: CAP }, () => get('/v1/models', { authorization: `Bearer ${agent}` }, keep)));
    expect(filled.map((r) => r.status)).toEqual(Array(CAP).fill(200));
    expect(Object.values(keep.freeSockets).flat()).toHaveLength(CAP);

    const open = new Set<Socket>();
    let closedByDaemon = 0;
    let reconnects = 0;
    let reconnecting = false;
    const spawn = async (): Promise<void> => {
      let me: Socket | undefined = undefined;
      me = await trickle(() => {
        closedByDaemon++;
        if (me) open.delete(me);
        if (reconnecting && reconnects < 400) {
          reconnects++;
          void spawn();
        }
      });
      if (!me.destroyed) open.add(me);
    };
    try {
      for (let i = 0; i < 40; i++) await spawn();
      // The per-address cap: of 40, the daemon closed all but 4 (the newest push the oldest out).
      await vi.waitFor(() => expect(closedByDaemon).toBe(36), { timeout: 10_000, interval: 20 });
      expect(open.size).toBe(4);

      // From now on the trickler reconnects every socket the daemon closes, competing with the human.
      reconnecting = true;
      const secret = adminSecret(s);
      const admin: number[] = [];
      const dashboard: number[] = [];
      for (let i = 0; i < 20; i++) {
        admin.push((await get('/admin/api/status', { authorization: `Bearer ${secret}` })).status);
        dashboard.push((await get('/', {})).status);
      }
      expect(admin).toEqual(Array(20).fill(200));
      expect(dashboard).toEqual(Array(20).fill(200));
      // A new agent socket gets no place in the human's reserve: 503, not an answer.
      const late = await get('/v1/models', { authorization: `Bearer ${agent}` });
      expect(late.status).toBe(503);
      expect(late.code).toBe('too_many_connections');
      expect(open.size).toBeLessThanOrEqual(4);
    } finally {
      reconnecting = false;
      for (const sock of open) sock.destroy();
      keep.destroy();
    }
    // Once the pool frees up, agents are served again.
    await vi.waitFor(async () => expect((await get('/v1/models', { authorization: `Bearer ${agent}` })).status).toBe(200), { timeout: 10_000, interval: 50 });
  });

  it('W2 an unauthenticated answer closes its socket (no keep-alive place for the unknown); an authenticated one keeps it', async () => {
    const bad = await get('/v1/models', { authorization: 'Bearer nonsense', connection: 'keep-alive' });
    expect(bad.status).toBe(401);
    expect(bad.connection).toBe('close');
    const page = await get('/', { connection: 'keep-alive' });
    expect(page.status).toBe(200);
    expect(page.connection).toBe('close');
    const noAdmin = await get('/admin/api/status', { connection: 'keep-alive' });
    expect(noAdmin.status).toBe(401);
    expect(noAdmin.connection).toBe('close');
    const good = await get('/v1/models', { authorization: `Bearer ${agent}`, connection: 'keep-alive' });
    expect(good.status).toBe(200);
    expect(good.connection).toBe('keep-alive');
  });

  it('W3 agents holding the whole pool and a process filling the human\'s reserve with sockets that never send a byte: the human still gets in (the oldest silent one makes room)', async () => {
    // A larger pool: the per-address cap (32) is then above the reserve (8), so silent sockets alone could fill it.
    const big = await startStack({ daemon: { limits: { maxConnections: 64, keepAliveTimeoutMs: 60_000 } } });
    const keep = new Agent({ keepAlive: true, maxSockets: 64 });
    const silent: Socket[] = [];
    try {
      const secret = big.token({ preset: 'write' }).secret;
      const call = (path: string, headers: Record<string, string>, a: Agent | false = false) =>
        new Promise<number>((resolve) => {
          const req = httpRequest({ host: '127.0.0.1', port: big.daemon.port, path, headers, agent: a }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode!));
          });
          req.on('error', () => resolve(0));
          req.end();
        });
      expect(await Promise.all(Array.from({ length: 64 }, () => call('/v1/models', { authorization: `Bearer ${secret}` }, keep)))).toEqual(Array(64).fill(200));
      let closed = 0;
      for (let i = 0; i < 12; i++) {
        silent.push(
          await new Promise<Socket>((resolve) => {
            const sock = connect(big.daemon.port, '127.0.0.1');
            sock.on('error', () => undefined);
            sock.once('close', () => closed++);
            sock.once('connect', () => resolve(sock));
          }),
        );
      }
      // The reserve holds 8 on probation: of 12, 4 are closed (the oldest, or the newest while the oldest are too young to go).
      await vi.waitFor(() => expect(closed).toBe(4), { timeout: 10_000, interval: 20 });
      const admin: number[] = [];
      for (let i = 0; i < 5; i++) admin.push(await call('/admin/api/status', { authorization: `Bearer ${adminSecret(big)}` }));
      expect(admin).toEqual(Array(5).fill(200));
      // The human's first socket made room by ending the oldest silent one (later ones found the place it left).
      expect(closed).toBeGreaterThanOrEqual(5);
    } finally {
      for (const sock of silent) sock.destroy();
      keep.destroy();
      await big.close();
    }
  });
});
