/** `serve`: the headless daemon. */
import { envSetting } from '../../core/env.js';
import { once } from 'node:events';
import type { Command } from 'commander';
import { DEFAULT_HOST, DEFAULT_LIMITS, DEFAULT_PORT, resolveUpstream } from '../../core/config.js';
import { checkWritable, ensureDataDir } from '../../db/database.js';
import { createLogger, logRequests, openLogFile } from '../../core/log.js';
import { isLoopbackHost } from '../../server/guards.js';
import { startDaemon, type Daemon } from '../../server/daemon.js';
import { CliError, dataDirOf, type GlobalOptions } from '../context.js';
import { registerRunning } from '../running.js';
import { StopRequest } from '../stop.js';
import { parseCountFlag, parsePortFlag, parsePositiveFlag } from '../parse.js';
import { parseControlPlane } from '../../upstream/balance.js';

export interface ServeFlags {
  port: string;
  host: string;
  upstream?: string;
  controlPlane?: string;
  allowOrigin: string[];
  allowRemote?: boolean;
  maxBodyMb?: string;
  upstreamTimeout?: string;
  headersTimeout: string;
  requestTimeout: string;
  upstreamIdleTimeout: string;
  maxResponseMinutes: string;
  authFailuresPerMinute: string;
  maxConnections: string;
  metrics?: boolean;
  logFile: boolean;
}

function controlPlaneFlag(raw: string | undefined): { controlPlaneUrl?: string } {
  if (raw === undefined) return {};
  try {
    return { controlPlaneUrl: parseControlPlane(raw) };
  } catch (err) {
    throw new CliError(`--control-plane: ${(err as Error).message}`);
  }
}

/** A positive number of seconds (or minutes) from a flag, in ms: plain decimal, as every number flag (cli/parse.ts). */
function duration(flag: string, s: string, unitMs = 1000): number {
  return Math.round(parsePositiveFlag(s, flag, `a positive number of ${unitMs === 1000 ? 'seconds' : 'minutes'}`) * unitMs);
}

/** Stops the daemon on SIGINT/SIGTERM (at once if `stop` was already asked for) and resolves when it has stopped. */
export async function runUntilSignal(daemon: Daemon, onStop?: () => Promise<void>, stop = new StopRequest()): Promise<void> {
  await stop.wait();
  try {
    await daemon.close();
  } finally {
    await onStop?.();
  }
}

export function registerServe(program: Command, globals: () => GlobalOptions): void {
  program
    .command('serve')
    .description('run the daemon: the agent proxy, admin API and dashboard on one loopback port')
    .option('--port <port>', 'port to listen on (0 picks a free one)', String(DEFAULT_PORT))
    .option('--host <host>', 'address to bind; anything but loopback also needs --allow-remote', DEFAULT_HOST)
    .option('--allow-remote', 'really bind a non-loopback address (every agent token becomes reachable from the network)')
    .option('--upstream <url>', 'SkillBoss API base URL (env SKILLBOSS_UPSTREAM_URL)')
    .option('--control-plane <url>', 'SkillBoss control-plane host for the balance outside /v1 (env SKILLBOSS_CONTROL_PLANE_URL; default: derived from the upstream, api.X → www.X)')
    .option('--allow-origin <origin>', 'a browser origin allowed to call the API (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--max-body-mb <n>', 'largest request body accepted, in MiB', '32')
    .option('--upstream-timeout <seconds>', 'how long to wait for SkillBoss to start answering', '300')
    .option('--upstream-idle-timeout <seconds>', 'longest silence allowed in the middle of an answer from SkillBoss', String(DEFAULT_LIMITS.upstreamIdleTimeoutMs / 1000))
    .option('--max-response-minutes <n>', 'longest one answer (a stream included) may run before it is cut off', String(DEFAULT_LIMITS.maxResponseMs / 60_000))
    .option('--headers-timeout <seconds>', 'time a client has to send its request headers', String(DEFAULT_LIMITS.headersTimeoutMs / 1000))
    .option('--request-timeout <seconds>', 'time a client has to send its whole request, body included', String(DEFAULT_LIMITS.requestTimeoutMs / 1000))
    .option('--max-connections <n>', 'most agent connections open at once (slow clients included); the admin API and dashboard have a reserve besides', String(DEFAULT_LIMITS.maxConnections))
    .option('--auth-failures-per-minute <n>', 'failed authentications one address may make per minute before it gets 429s (0: no limit)', String(DEFAULT_LIMITS.authFailuresPerMinute))
    .option('--metrics', 'serve Prometheus metrics at /metrics (loopback only; bearer: the admin-secret file in the data dir)')
    .option('--no-log-file', 'do not write JSON logs to <data dir>/logs (stderr only)')
    .action(async (o: ServeFlags) => {
      // First: a SIGTERM/SIGINT from here on (or one caught while the CLI loaded) is an orderly stop, start-up included.
      const stop = new StopRequest();
      try {
        await serve(o, globals(), stop);
      } finally {
        stop.dispose();
      }
    });
}

async function serve(o: ServeFlags, g: GlobalOptions, stop: StopRequest): Promise<void> {
  const port = parsePortFlag(o.port);
  if (!isLoopbackHost(o.host) && !o.allowRemote) {
    throw new CliError(`refusing to bind ${o.host}: the sidecar is meant for loopback only. Add --allow-remote if you really want it reachable from the network.`);
  }
  const maxBodyMb = parsePositiveFlag(o.maxBodyMb ?? '32', '--max-body-mb', 'a positive number of MiB');
  const upTimeout = parsePositiveFlag(o.upstreamTimeout ?? '300', '--upstream-timeout', 'a positive number of seconds');
  const headersTimeoutMs = duration('--headers-timeout', o.headersTimeout);
  const requestTimeoutMs = duration('--request-timeout', o.requestTimeout);
  if (headersTimeoutMs > requestTimeoutMs) throw new CliError('--headers-timeout must not be longer than --request-timeout');
  // 0 turns the limit off.
  const authFailures = parseCountFlag(o.authFailuresPerMinute, '--auth-failures-per-minute', 1_000_000, { min: 0, none: false })!;
  const maxConnections = parseCountFlag(o.maxConnections, '--max-connections', 1_000_000, { none: false })!;
  // Asked to stop while the CLI loaded: nothing was started, nothing is written.
  if (stop.asked) return;
  const dataDir = dataDirOf(g);
  // Before anything is written there (the log file): a data dir the daemon cannot write is a clear refusal.
  ensureDataDir(dataDir);
  checkWritable(dataDir);
  const file = o.logFile ? await openLogFile(dataDir) : undefined;
  const log = createLogger({ pretty: process.stderr.isTTY, file });
  const daemon = await startDaemon({
    dataDir,
    host: o.host,
    port,
    upstreamUrl: resolveUpstream(o.upstream),
    ...controlPlaneFlag(o.controlPlane ?? (envSetting('SKILLBOSS_CONTROL_PLANE_URL'))),
    allowedOrigins: o.allowOrigin,
    limits: {
      maxBodyBytes: Math.round(maxBodyMb * 1024 * 1024),
      upstreamHeadersTimeoutMs: upTimeout * 1000,
      upstreamIdleTimeoutMs: duration('--upstream-idle-timeout', o.upstreamIdleTimeout),
      maxResponseMs: duration('--max-response-minutes', o.maxResponseMinutes, 60_000),
      headersTimeoutMs,
      requestTimeoutMs,
      authFailuresPerMinute: authFailures,
      maxConnections,
    },
    log,
    ...(o.metrics ? { metrics: true } : {}),
  });
  if (stop.asked) {
    // Asked to stop while starting: stopped before serving anything, leaving no runtime file behind.
    await daemon.close();
    log.info({ signal: stop.asked }, 'stopped while starting');
  } else {
    logRequests(daemon.events, log);
    log.info({ url: daemon.url, dataDir }, 'skillboss-sidecar is serving');
    // One plain line on stdout for scripts and tests: where agents should point.
    process.stdout.write(`listening ${daemon.url}/v1\n`);
    const unregister = registerRunning({ pid: process.pid, kind: 'serve', dataDir, url: daemon.url });
    await runUntilSignal(daemon, async () => unregister(), stop);
    log.info('stopped');
  }
  if (file) {
    // end() writes what is buffered, in order, then closes.
    const closed = once(file, 'close');
    file.end();
    await closed;
  }
}
