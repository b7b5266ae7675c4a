/**
 * `open [--print]`: signs the browser into the running daemon's dashboard
 * with a one-time login link. The link's nonce goes into the shared SQLite
 * file (as a hash) for the daemon to check; it works once, for two minutes.
 *
 * The browser never gets the link on a command line: every local user can
 * read a process's arguments (/proc/<pid>/cmdline) while the launcher runs,
 * and one who redeems the nonce first has the dashboard. The browser is
 * handed a file instead: a page in the data dir (owner-only, like the dir)
 * that redirects to the link, removed once the link is used or has expired.
 */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { createLoginNonce, LOGIN_NONCE_TTL_MS, loginNoncePending } from '../../admin/sessions.js';
import { isLocked, readRuntime } from '../../server/lock.js';
import { randomBase62 } from '../../tokens/format.js';
import { CliError, dataDirOf, openDb, type GlobalOptions } from '../context.js';

const POLL_MS = 250;

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

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A page that sends the browser on to the login link at once (no script: a meta refresh). */
export function redirectPage(url: string): string {
  const u = escapeHtml(url);
  return `<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer"><meta http-equiv="refresh" content="0;url=${u}">
<title>Signing in to SkillBoss Sidecar</title><p>Signing in to the dashboard… If nothing happens, <a href="${u}">continue</a>.</p>\n`;
}

/** Resolves when the nonce was used or can no longer be (expired), polling the shared database. */
function waitUntilUsed(dataDir: string, g: GlobalOptions, nonce: string, deadline: number): Promise<boolean> {
  const db = openDb({ ...g, dataDir });
  return new Promise((resolve) => {
    const check = () => {
      const now = Date.now();
      if (!loginNoncePending(db, nonce, now)) return done(now < deadline);
      if (now >= deadline) return done(false);
      setTimeout(check, POLL_MS);
    };
    const done = (used: boolean) => {
      db.close();
      resolve(used);
    };
    check();
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
      let expiresAt: number;
      try {
        ({ nonce, expiresAt } = createLoginNonce(db, Date.now()));
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
      // Owner-only in an owner-only dir; its name is no secret, its content is.
      const page = join(dataDir, `login-${randomBase62(16)}.html`);
      writeFileSync(page, redirectPage(url), { mode: 0o600, flag: 'wx' });
      const remove = () => rmSync(page, { force: true });
      const interrupted = () => {
        remove();
        process.exit(130);
      };
      process.once('SIGINT', interrupted).once('SIGTERM', interrupted).once('SIGHUP', interrupted);
      try {
        const problem = await launch(pathToFileURL(page).href);
        if (problem) {
          process.stderr.write(`${problem}; open this link yourself (it works once, within ${minutes} minutes):\n`);
          process.stdout.write(`${url}\n`);
          return;
        }
        process.stderr.write(`Opening the dashboard at ${runtime.url}/ in your browser; waiting for it to sign in…\n`);
        if (await waitUntilUsed(dataDir, globals(), nonce, expiresAt)) {
          process.stdout.write(`Opened the dashboard at ${runtime.url}/ in your browser.\n`);
        } else {
          throw new CliError(`the browser did not sign in within ${minutes} minutes; run \`skillboss-sidecar open\` again, or \`open --print\` and paste the link into the browser yourself`);
        }
      } finally {
        remove();
        process.off('SIGINT', interrupted).off('SIGTERM', interrupted).off('SIGHUP', interrupted);
      }
    });
}
