/**
 * Connection capacity, so the human always gets in (issue 25 item 9).
 *
 * One pool for every socket let a process holding trickling sockets (a
 * request head sent a byte at a time, never finished) lock the admin API and
 * the dashboard out along with everyone else. A socket cannot say who it is
 * before its first request, so each is counted by what it has shown so far:
 *
 * - `pending`: no request yet. Counted in the agents' pool and against its
 *   client address (all of loopback is one address, as for the failure
 *   limiter, so rotating 127.x buys nothing): at most `perAddress` pending at
 *   once. A newcomer past either cap takes the place of the oldest pending
 *   socket once that one has had a turn of the event loop to be read (its
 *   head arrives at once if it means to send one; sockets accepted together
 *   never push each other out) — a trickler holds a place only until someone
 *   else needs it, and the headers/request timeouts end it anyway.
 * - `agent`: its first request was an agent route (/v1, /agents, /healthz,
 *   /skill.md, /metrics). Stays in the agents' pool (`general`, the
 *   `--max-connections` figure).
 * - `human`: its first request was the admin API or the dashboard. Counted in
 *   a reserve of its own (`reserved`) that agent and unauthenticated sockets
 *   cannot take.
 *
 * When the agents' pool is full and nothing pending can give way, a newcomer
 * is let in on probation, from the reserve: answered only if its first
 * request is the human's, else 503 and closed. A socket whose request did not
 * authenticate (an unknown token, no admin credential, the dashboard's static
 * files and login) is closed after its answer, so nobody unauthenticated can
 * keep a socket of either pool alive with keep-alive requests.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';
import { wasAuthenticated } from '../core/conn.js';
import { unavailable } from '../core/errors.js';
import { clientBucket } from '../pipeline/authenticate.js';
import { sendError } from '../pipeline/respond.js';


type Kind = 'pending' | 'agent' | 'human';
interface Entry {
  kind: Kind;
  address: string;
  /** The event-loop turn it was accepted in. */
  turn: number;
  /** Let in from the human's reserve while the agents' pool was full: only a human request is answered. */
  probation: boolean;
}

export interface CapacityOptions {
  /** The agents' pool (pending and agent sockets): `--max-connections`. */
  general: number;
  /** The human's reserve (admin and dashboard sockets, and newcomers on probation). */
  reserved: number;
  /** Pending sockets one client address may hold at once. */
  perAddress: number;
}

/** The reserve and per-address share that go with a `--max-connections` figure. */
export function capacityFor(maxConnections: number): Pick<CapacityOptions, 'general' | 'reserved' | 'perAddress'> {
  return { general: maxConnections, reserved: Math.max(8, Math.ceil(maxConnections / 16)), perAddress: Math.max(1, Math.ceil(maxConnections / 2)) };
}

/** Agent routes; everything else the daemon serves is the admin API or the dashboard. */
export function isAgentPath(url: string): boolean {
  return url === '/v1' || url.startsWith('/v1/') || url.startsWith('/agents/') || url === '/healthz' || url === '/skill.md' || url.startsWith('/metrics');
}

export class ConnectionGate {
  private readonly sockets = new Map<Socket, Entry>();
  private general = 0;
  private reserve = 0;
  private readonly pendingBy = new Map<string, number>();
  /** Counts event-loop turns while a socket is young (setImmediate runs once per turn, after that turn's reads). */
  private turn = 0;
  private lastAdmitted = 0;
  private ticking = false;

  constructor(private readonly o: CapacityOptions) {}

  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.admit(socket));
  }

  private admit(socket: Socket): void {
    const address = clientBucket(socket.remoteAddress ?? '');
    if ((this.pendingBy.get(address) ?? 0) >= this.o.perAddress && !this.evictOldestPending(address)) return void socket.destroy();
    let probation = false;
    if (this.general >= this.o.general && !this.evictOldestPending(undefined, 'general')) {
      // The reserve full of sockets on probation that sent nothing: the oldest makes room, or the human could never get in.
      if (this.reserve >= this.o.reserved && !this.evictOldestPending(undefined, 'probation')) return void socket.destroy();
      probation = true;
    }
    const e: Entry = { kind: 'pending', address, turn: this.turn, probation };
    this.lastAdmitted = this.turn;
    this.tick();
    this.sockets.set(socket, e);
    this.add(e, 1);
    socket.once('close', () => {
      const cur = this.sockets.get(socket);
      if (!cur) return;
      this.sockets.delete(socket);
      this.add(cur, -1);
    });
  }

  /**
   * Called for every request before it is routed. False: refused here (a probation socket's agent request),
   * answered 503 and closed.
   */
  onRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const socket = req.socket;
    const e = this.sockets.get(socket);
    if (!e) return true;
    if (e.kind === 'pending') {
      const human = !isAgentPath(req.url ?? '/');
      if (e.probation && !human) {
        res.shouldKeepAlive = false;
        sendError(res, unavailable('too_many_connections', 'The sidecar has as many agent connections open as it allows (--max-connections); retry shortly.', 1));
        return false;
      }
      this.add(e, -1);
      e.kind = human ? 'human' : 'agent';
      this.add(e, 1);
    }
    // Whoever did not authenticate gets its answer with `Connection: close`: no keep-alive place for the unknown.
    // (Authentication happens before anything is written, so it is known when the head goes out.)
    const writeHead = res.writeHead;
    res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
      if (!wasAuthenticated(req)) this.shouldKeepAlive = false;
      return writeHead.apply(this, args);
    } as ServerResponse['writeHead'];
    return true;
  }

  private add(e: Entry, n: 1 | -1): void {
    if (e.kind === 'human' || e.probation) this.reserve += n;
    else this.general += n;
    if (e.kind !== 'pending') return;
    const left = (this.pendingBy.get(e.address) ?? 0) + n;
    if (left > 0) this.pendingBy.set(e.address, left);
    else this.pendingBy.delete(e.address);
  }

  private tick(): void {
    if (this.ticking) return;
    this.ticking = true;
    setImmediate(() => {
      this.ticking = false;
      this.turn++;
      if (this.turn - this.lastAdmitted < 2) this.tick();
    });
  }

  /**
   * Ends the oldest pending socket (of `address`, if given) that has had a whole turn to be read since the turn
   * it was accepted in (two ticks: the reads of the next poll phase came before the second); false when none has.
   * `general`: only one counted in the agents' pool (not one on probation), so that the eviction frees a place there;
   * `probation`: only one on probation in the reserve, to free a place there.
   */
  private evictOldestPending(address?: string, pool: 'any' | 'general' | 'probation' = 'any'): boolean {
    let oldest: [Socket, Entry] | null = null;
    // Insertion order is accept order: the first one that qualifies is the oldest.
    for (const pair of this.sockets) {
      const e = pair[1];
      if (e.kind !== 'pending' || (address !== undefined && e.address !== address) || this.turn - e.turn < 2) continue;
      if ((pool === 'general' && e.probation) || (pool === 'probation' && !e.probation)) continue;
      oldest = pair;
      break;
    }
    if (!oldest) return false;
    this.sockets.delete(oldest[0]);
    this.add(oldest[1], -1);
    oldest[0].destroy();
    return true;
  }
}
