/**
 * `open [--print]`: signs the browser into the running daemon's dashboard
 * with a one-time login link. The link's nonce goes into the shared SQLite
 * file (as a hash) for the daemon to check; it works once, for two minutes.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { createLoginNonce, LOGIN_NONCE_TTL_MS } from '../../admin/sessions.js';
import { isLocked, readRuntime } from '../../server/lock.js';
import { CliError, dataDirOf, openDb, type GlobalOptions } from '../context.js';

/** The platform's "open this URL in the default browser" command. */
export function opener(url: string, platform: NodeJS.Platform = process.platform): { cmd: string; args: string[] } {
  if (platform === 'darwin') return { cmd: 'open', args: [url] };
  // `start` treats its first quoted argument as a window title, hence the empty one.
  if (platform === 'win32') return { cmd: 'cmd', args: ['/c', 'start', '""', url] };
  return { cmd: 'xdg-open', args: [url] };
}

function launch(url: string): Promise<string | null> {
  const { cmd, args } = opener(url);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true, windowsVerbatimArguments: process.platform === 'win32' });
    child.once('error', (err) => resolve(`could not run ${cmd} (${(err as NodeJS.ErrnoException).code ?? err.message})`));
    child.once('spawn', () => {
      child.unref();
      resolve(null);
    });
  });
}

export function registerOpen(program: Command, globals: () => GlobalOptions): void {
  program
    .command('open')
    .description('open the dashboard in the browser, signed in with a one-time login link (valid once, for 2 minutes)')
    .option('--print', 'print the link instead of opening a browser')
    .action(async (o: { print?: boolean }) => {
      const dataDir = dataDirOf(globals());
      const runtime = readRuntime(dataDir);
      if (!runtime || !isLocked(dataDir)) {
        throw new CliError(`no sidecar daemon is running for ${dataDir}; start one with \`skillboss-sidecar serve\` (or the tray app), then run this again`);
      }
      const db = openDb(globals());
      let nonce: string;
      try {
        nonce = createLoginNonce(db, Date.now()).nonce;
      } finally {
        db.close();
      }
      const url = `${runtime.url}/admin/login?nonce=${nonce}`;
      const minutes = LOGIN_NONCE_TTL_MS / 60_000;
      if (o.print) {
        process.stdout.write(`${url}\n`);
        process.stderr.write(`This link signs in once, within ${minutes} minutes. Treat it like a password until then.\n`);
        return;
      }
      const problem = await launch(url);
      if (problem) {
        process.stderr.write(`${problem}; open this link yourself (it works once, within ${minutes} minutes):\n`);
        process.stdout.write(`${url}\n`);
        return;
      }
      process.stdout.write(`Opened the dashboard at ${runtime.url}/ in your browser.\n`);
    });
}
