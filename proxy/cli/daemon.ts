/**
 * The daemon serving a data dir, reached through its admin API with the admin
 * secret (issue 26). A CLI change made through it is in force when the
 * command returns (the daemon applies it to its own caches at once); written
 * straight to the database, the daemon would notice only at its next poll,
 * and the agent's next request could still be refused. `status` and
 * `doctor` ask it what it runs with (upstream, key, demo mode, sync ages)
 * instead of judging the local key store and the default upstream.
 *
 * Without a running daemon every command keeps its direct database path.
 */
import { readAdminSecret } from '../admin/secret.js';
import { isLocked, readRuntime, type RuntimeInfo } from '../server/lock.js';
import { CliError, dataDirOf, type GlobalOptions } from './context.js';
import { listRunning } from './running.js';
import { CLIENT_HEADER, type Status } from '../../wire/admin.js';

export class DaemonGone extends Error {
  override name = 'DaemonGone';
}

export interface DaemonClient {
  readonly dataDir: string;
  readonly runtime: RuntimeInfo;
  /** `demo` or `serve` as registered in the runtime dir; `daemon` for one that did not register (the tray app). */
  readonly kind: 'demo' | 'serve' | 'daemon';
  /** One admin API call; its error body becomes a CliError with the daemon's message. */
  call<T>(method: 'GET' | 'POST' | 'PATCH' | 'PUT', path: string, body?: unknown): Promise<T>;
}

/** How the CLI names a daemon to the human: "the demo (pid 123) at http://127.0.0.1:7373, data dir …". */
export function describeDaemon(d: Pick<DaemonClient, 'kind' | 'runtime' | 'dataDir'>, demo = d.kind === 'demo'): string {
  const what = demo ? 'the demo' : d.kind === 'serve' ? 'the daemon (`serve`)' : 'the daemon';
  return `${what} (pid ${d.runtime.pid}) at ${d.runtime.url}, data dir ${d.dataDir}`;
}

/** The admin API's origin: loopback with the daemon's port, whatever address it binds (the admin API answers only there). */
function adminBase(rt: RuntimeInfo): string {
  const host = rt.host === '::1' ? '[::1]' : rt.host === 'localhost' ? 'localhost' : '127.0.0.1';
  return `http://${host}:${rt.port}/admin/api`;
}

/** The running daemon of this data dir, or null when none runs (or its admin secret cannot be read). */
export function daemonAt(dataDir: string): DaemonClient | null {
  const runtime = readRuntime(dataDir);
  if (!runtime) return null;
  try {
    if (!isLocked(dataDir)) return null;
  } catch {
    return null;
  }
  let secret: string;
  try {
    secret = readAdminSecret(dataDir);
  } catch {
    return null;
  }
  const registered = listRunning().find((d) => d.pid === runtime.pid);
  const base = adminBase(runtime);
  return {
    dataDir,
    runtime,
    kind: registered?.kind ?? 'daemon',
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          method,
          // The audit log names the CLI for what it changes through the daemon, as for its own writes (admin/auth.ts).
          headers: { authorization: `Bearer ${secret}`, [CLIENT_HEADER]: 'cli', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (err) {
        // Stopped between the check and the call: the caller may fall back to the database.
        if (!isLocked(dataDir)) throw new DaemonGone(`the daemon at ${runtime.url} stopped`);
        throw new CliError(`the daemon at ${runtime.url} did not answer (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message})`);
      }
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : {};
      } catch {
        throw new CliError(`the daemon at ${runtime.url} answered ${res.status} with something that is not JSON`);
      }
      if (!res.ok) {
        const message = (json as { error?: { message?: string } }).error?.message ?? `HTTP ${res.status}`;
        throw new CliError(message);
      }
      return json as T;
    },
  };
}

export function daemonFor(opts: GlobalOptions): DaemonClient | null {
  return daemonAt(dataDirOf(opts));
}

/**
 * A write: through the daemon's admin API when one runs (in force on return), else `direct` on the
 * database. A daemon that stops in between is no error: the write then goes to the database.
 */
export async function write<T>(opts: GlobalOptions, viaDaemon: (d: DaemonClient) => Promise<T>, direct: () => T | Promise<T>): Promise<T> {
  const d = daemonFor(opts);
  if (d) {
    try {
      return await viaDaemon(d);
    } catch (err) {
      if (!(err instanceof DaemonGone)) throw err;
    }
  }
  return direct();
}

/**
 * A write that has no admin route (prices with class rates, rotation settings, env sinks): made on the
 * database, then the daemon is asked to apply it at once instead of at its next poll.
 */
export async function writeDirect<T>(opts: GlobalOptions, direct: () => T | Promise<T>): Promise<T> {
  const out = await direct();
  const d = daemonFor(opts);
  if (d) await d.call('POST', '/refresh').catch((err: unknown) => {
    if (!(err instanceof DaemonGone)) throw err;
  });
  return out;
}

export async function daemonStatus(d: DaemonClient): Promise<Status & { warnings?: string[] }> {
  return d.call<Status & { warnings?: string[] }>('GET', '/status');
}
