/**
 * The tray app runs the daemon in Electron's main process, so it needs the V8 heap sizing that
 * `skillboss-sidecar serve` gets from its `#!/usr/bin/env -S node …` line (see bin/skillboss-sidecar.js
 * and the README's Performance section: without it each 400 KiB agent request's buffers start a major GC
 * every ~13 requests at 8 connections).
 *
 * `app.commandLine.appendSwitch('js-flags', …)` is not enough: Electron reads `--js-flags` for the main
 * process only from the command line it was started with ("this switch must be passed on startup"), so
 * an app started without it relaunches itself once with it. The marker variable makes that at most one
 * relaunch, whatever Electron does with the switch.
 */

/** The daemon's V8 flags: the same two as the CLI's start line (a unit test keeps them, and DAEMON_ENV, equal to it). */
export const DAEMON_V8_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--initial-old-space-size=64'];

/**
 * The environment the CLI's start line sets as well: glibc's malloc arenas capped at two, so the daemon's
 * worker threads do not each keep an arena of their own (Linux; other systems ignore it). It takes effect
 * only from a process's start, so the relaunch carries it.
 */
export const DAEMON_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** Set in the relaunched process's environment, so a second relaunch never happens. */
export const HEAP_RELAUNCH_MARKER = 'SKILLBOSS_SIDECAR_HEAP_RELAUNCHED';

export interface HeapCheck {
  /** The value of `--js-flags` the process was started with, or null without one. */
  jsFlags: string | null;
  env: Readonly<Record<string, string | undefined>>;
  /** A development run under a debugger or with flags the developer chose is left alone. */
  packaged: boolean;
}

/** Whether every daemon flag is already in a `--js-flags` value (flags may come in any order, with others). */
export function hasDaemonFlags(jsFlags: string | null): boolean {
  if (jsFlags === null) return false;
  const given = new Set(jsFlags.split(/\s+/).filter(Boolean));
  return DAEMON_V8_FLAGS.every((f) => given.has(f));
}

/**
 * The `--js-flags` value to relaunch with, or null to go on in this process: the flags are there,
 * this is already the relaunch, or the app is not packaged (`npm run app` passes them itself).
 */
export function heapRelaunchFlags(check: HeapCheck): string | null {
  if (!check.packaged || hasDaemonFlags(check.jsFlags) || check.env[HEAP_RELAUNCH_MARKER] === '1') return null;
  const others = (check.jsFlags ?? '').split(/\s+/).filter((f) => f && !DAEMON_V8_FLAGS.some((d) => d.split('=')[0] === f.split('=')[0]));
  return [...others, ...DAEMON_V8_FLAGS].join(' ');
}

/** The relaunched process's arguments: the current ones without any `--js-flags`, plus the new one. */
export function relaunchArgs(argv: readonly string[], jsFlags: string): string[] {
  return [...argv.filter((a) => !a.startsWith('--js-flags=')), `--js-flags=${jsFlags}`];
}

/** Marks the environment the relaunched process inherits, so it never relaunches again, and gives it DAEMON_ENV. */
export function markRelaunched(env: NodeJS.ProcessEnv): void {
  Object.assign(env, DAEMON_ENV);
  env[HEAP_RELAUNCH_MARKER] = '1';
}
