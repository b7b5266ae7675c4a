/**
 * `eval "$(skillboss-sidecar env …)"` runs whatever the command prints on
 * stdout. When it fails, stdout is empty and the shell carries on with empty
 * variables, the reason easy to miss above the agent's own output (issue 26).
 * So a command meant for `eval` that fails while its stdout is not a
 * terminal also prints a line the shell runs: the reason again, on stderr,
 * and a failing status (`… && agent` then stops).
 */
import { basename } from 'node:path';
import { envSetting } from '../core/env.js';

/** Whether this command line prints lines for eval: `env`, and `connect` for an agent whose settings are printed. */
export function printsForEval(args: string[], cmd: string | undefined): boolean {
  if (cmd === 'env') return true;
  if (cmd !== 'connect') return false;
  const agent = args[args.indexOf('connect') + 1];
  return args.includes('--print') || agent === 'qwen' || agent === 'openai';
}

function shellOf(args: string[], env: NodeJS.ProcessEnv): string {
  const i = args.indexOf('--shell');
  if (i >= 0 && args[i + 1]) return args[i + 1]!;
  const eq = args.find((a) => a.startsWith('--shell='));
  if (eq) return eq.slice('--shell='.length);
  const sh = basename(envSetting('SHELL', env) ?? '');
  return sh === 'pwsh' || process.platform === 'win32' ? 'powershell' : sh;
}

/** The line for the shell: `echo '…' >&2; false` (bash, zsh, fish), `Write-Error '…'` (PowerShell). */
export function evalFailureLine(reason: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const first = reason.split('\n')[0]!.trim();
  const text = `skillboss-sidecar: ${first}${reason.includes('\n') ? ' (details above)' : ''}`;
  if (shellOf(args, env) === 'powershell') return `Write-Error '${text.replace(/'/g, "''")}'\n`;
  // Single quotes take everything literally; a quote inside is closed, escaped and reopened.
  return `echo '${text.replace(/'/g, `'\\''`)}' >&2; false\n`;
}
