/** `serve`: the headless daemon. */
import type { Command } from 'commander';
import { DEFAULT_HOST, DEFAULT_PORT, resolveUpstream } from '../../core/config.js';
import { createLogger } from '../../core/log.js';
import { isLoopbackHost } from '../../server/guards.js';
import { startDaemon, type Daemon } from '../../server/daemon.js';
import { CliError, dataDirOf, type GlobalOptions } from '../context.js';

export interface ServeFlags {
  port: string;
  host: string;
  upstream?: string;
  allowOrigin: string[];
  allowRemote?: boolean;
  maxBodyMb?: string;
  upstreamTimeout?: string;
}

function parsePort(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`--port takes a number from 0 to 65535, not ${JSON.stringify(s)}`);
  return n;
}

/** Stops the daemon on SIGINT/SIGTERM and resolves when it has stopped. */
export function runUntilSignal(daemon: Daemon, onStop?: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      void daemon
        .close()
        .then(() => onStop?.())
        .finally(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

export function registerServe(program: Command, globals: () => GlobalOptions): void {
  program
    .command('serve')
    .description('run the daemon: the agent proxy, admin API and dashboard on one loopback port')
    .option('--port <port>', 'port to listen on (0 picks a free one)', String(DEFAULT_PORT))
    .option('--host <host>', 'address to bind; anything but loopback also needs --allow-remote', DEFAULT_HOST)
    .option('--allow-remote', 'really bind a non-loopback address (every agent token becomes reachable from the network)')
    .option('--upstream <url>', 'SkillBoss API base URL (env SKILLBOSS_UPSTREAM_URL)')
    .option('--allow-origin <origin>', 'a browser origin allowed to call the API (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--max-body-mb <n>', 'largest request body accepted, in MiB', '32')
    .option('--upstream-timeout <seconds>', 'how long to wait for SkillBoss to start answering', '300')
    .action(async (o: ServeFlags) => {
      const port = parsePort(o.port);
      if (!isLoopbackHost(o.host) && !o.allowRemote) {
        throw new CliError(`refusing to bind ${o.host}: the sidecar is meant for loopback only. Add --allow-remote if you really want it reachable from the network.`);
      }
      const maxBodyMb = Number(o.maxBodyMb);
      const upTimeout = Number(o.upstreamTimeout);
      if (!(maxBodyMb > 0)) throw new CliError('--max-body-mb takes a positive number');
      if (!(upTimeout > 0)) throw new CliError('--upstream-timeout takes a positive number of seconds');
      const log = createLogger({ pretty: process.stderr.isTTY });
      const dataDir = dataDirOf(globals());
      const daemon = await startDaemon({
        dataDir,
        host: o.host,
        port,
        upstreamUrl: resolveUpstream(o.upstream),
        allowedOrigins: o.allowOrigin,
        limits: { maxBodyBytes: Math.round(maxBodyMb * 1024 * 1024), upstreamHeadersTimeoutMs: upTimeout * 1000 },
        log,
      });
      log.info({ url: daemon.url, dataDir }, 'skillboss-sidecar is serving');
      // One plain line on stdout for scripts and tests: where agents should point.
      process.stdout.write(`listening ${daemon.url}/v1\n`);
      await runUntilSignal(daemon);
      log.info('stopped');
    });
}
