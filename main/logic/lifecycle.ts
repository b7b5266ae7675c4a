/**
 * What the app does at start, decided in plain code: run the daemon in this
 * process; or, when a headless daemon (`skillboss-sidecar serve`) already
 * holds the data dir's lock, attach to it over HTTP instead of fighting for
 * the lock; or, when another program holds our port, say so and offer a free
 * one. The Electron side only supplies the question to the human.
 */
import { createServer } from 'node:net';
import { z } from 'zod';
import type { Daemon } from '../../proxy/server/daemon.js';
import { DataDirLocked, isLocked, readRuntime, type RuntimeInfo } from '../../proxy/server/lock.js';

export type StartPlan =
  | { kind: 'start'; port: number }
  | { kind: 'attach'; url: string; runtime: RuntimeInfo }
  | { kind: 'port-taken'; port: number; suggestion: number | null }
  | { kind: 'locked'; message: string };

export interface PlanOptions {
  dataDir: string;
  host: string;
  port: number;
  /** How long to wait for a daemon that holds the lock but has not written daemon.json yet, or to answer /healthz. */
  waitMs?: number;
}

const Health = z.object({ ok: z.literal(true), version: z.string() }).loose();

/** Whether a sidecar daemon answers at `url` (its /healthz). */
export async function probeDaemon(url: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok && Health.safeParse(await res.json()).success;
  } catch {
    return false;
  }
}

export function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** The first free port after `from` (nearby ports are easy to remember), else one the OS picks. */
export async function findFreePort(host: string, from: number, tries = 20): Promise<number | null> {
  for (let p = from + 1; p <= Math.min(from + tries, 65535); p++) if (await portFree(p, host)) return p;
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(null));
    s.listen(0, host, () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === 'object' && addr ? addr.port : null));
    });
  });
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runningDaemon(dataDir: string, waitMs: number): Promise<RuntimeInfo | null> {
  // daemon.json is written right after the daemon starts listening, a moment after it took the lock.
  const deadline = Date.now() + waitMs;
  for (;;) {
    const rt = readRuntime(dataDir);
    if (rt && (await probeDaemon(rt.url, Math.max(250, deadline - Date.now())))) return rt;
    if (Date.now() >= deadline) return null;
    await tick(100);
  }
}

export async function planStart(o: PlanOptions): Promise<StartPlan> {
  if (isLocked(o.dataDir)) {
    const rt = await runningDaemon(o.dataDir, o.waitMs ?? 3000);
    if (rt) return { kind: 'attach', url: rt.url, runtime: rt };
    const holder = readRuntime(o.dataDir);
    return {
      kind: 'locked',
      message:
        `Another sidecar process holds ${o.dataDir}` +
        (holder ? ` (pid ${holder.pid}, ${holder.url})` : '') +
        ' but does not answer. Stop it (or wait for it to finish starting) and open the app again.',
    };
  }
  if (await portFree(o.port, o.host)) return { kind: 'start', port: o.port };
  return { kind: 'port-taken', port: o.port, suggestion: await findFreePort(o.host, o.port) };
}

export type StartOutcome =
  | { kind: 'owned'; daemon: Daemon }
  | { kind: 'attached'; url: string; runtime: RuntimeInfo }
  | { kind: 'declined'; port: number }
  | { kind: 'failed'; message: string };

export interface StartIO {
  start(port: number): Promise<Daemon>;
  /** Asked when another program has the port: the port to use instead, or null to give up. */
  choosePort(offer: { port: number; suggestion: number | null }): Promise<number | null>;
}

const inUse = (err: unknown) => err instanceof Error && /already in use/.test(err.message);

/**
 * Plans, then acts; re-plans when the world changed in between (a headless
 * daemon started, or something grabbed the port, after we looked).
 */
export async function startOrAttach(o: PlanOptions, io: StartIO): Promise<StartOutcome> {
  let port = o.port;
  for (let attempt = 0; attempt < 4; attempt++) {
    const plan = await planStart({ ...o, port });
    switch (plan.kind) {
      case 'attach':
        return { kind: 'attached', url: plan.url, runtime: plan.runtime };
      case 'locked':
        return { kind: 'failed', message: plan.message };
      case 'port-taken': {
        const chosen = await io.choosePort({ port: plan.port, suggestion: plan.suggestion });
        if (chosen === null) return { kind: 'declined', port: plan.port };
        port = chosen;
        continue;
      }
      case 'start':
        try {
          return { kind: 'owned', daemon: await io.start(plan.port) };
        } catch (err) {
          if (err instanceof DataDirLocked || inUse(err)) continue;
          return { kind: 'failed', message: (err as Error).message };
        }
    }
  }
  return { kind: 'failed', message: 'the data dir and port kept changing hands while starting; try again' };
}
