/**
 * `env`: the lines an agent's shell needs, ready for eval:
 *
 *   eval "$(skillboss-sidecar env --name my-agent)"          # bash, zsh
 *   skillboss-sidecar env --name my-agent --shell fish | source
 *   skillboss-sidecar env --name my-agent --shell powershell | Invoke-Expression
 *
 * Only the export lines go to stdout; everything said to the human goes to
 * stderr, so eval never runs a sentence. A token's secret exists only at
 * creation (the database keeps its hash), so `--token ID` can print one only
 * from the token's env sink, the .env file the sidecar rewrites at rotation.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Option, type Command } from 'commander';
import { formatUsd } from '../../core/money.js';
import { isLocked } from '../../server/lock.js';
import { hashToken } from '../../tokens/format.js';
import { scopesFromPreset } from '../../tokens/scopes.js';
import type { Token, TokenStore } from '../../tokens/store.js';
import { CliError, dataDirOf, withTokens, type GlobalOptions } from '../context.js';
import { MODELS_FLAG_HELP, newTokenFields } from '../token-options.js';
import { DEFAULT_BASE_PATH, localBaseUrl } from '../urls.js';
import { envSetting } from '../../core/env.js';

export const SHELLS = ['bash', 'zsh', 'fish', 'powershell'] as const;
export type Shell = (typeof SHELLS)[number];

/** The variables every recipe reads: the OpenAI SDKs' two and SkillBoss's own. */
export interface AgentEnv {
  OPENAI_BASE_URL: string;
  OPENAI_API_KEY: string;
  SKILLBOSS_API_KEY: string;
}

/** Single-quoted for each shell, so no value is ever expanded or executed. */
export function exportLines(env: AgentEnv | Readonly<Record<string, string>>, shell: Shell): string {
  const lines = (Object.entries(env) as Array<[string, string]>).map(([k, v]) => {
    switch (shell) {
      case 'fish':
        return `set -gx ${k} '${v.replace(/[\\']/g, (c) => `\\${c}`)}'`;
      case 'powershell':
        return `$env:${k} = '${v.replace(/'/g, "''")}'`;
      default:
        return `export ${k}='${v.replace(/'/g, `'\\''`)}'`;
    }
  });
  return `${lines.join('\n')}\n`;
}

export function defaultShell(env: NodeJS.ProcessEnv = process.env, platform = process.platform): Shell {
  const sh = basename(envSetting('SHELL', env) ?? '');
  if (sh === 'bash' || sh === 'zsh' || sh === 'fish') return sh;
  if (sh === 'pwsh' || platform === 'win32') return 'powershell';
  return 'bash';
}

/** KEY=VALUE lines of a .env file (optional `export`, quotes and comments), as dotenv reads them. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(raw);
    if (!m) continue;
    let v = m[2]!;
    const q = v[0];
    if ((q === '"' || q === "'") && v.endsWith(q) && v.length >= 2) v = v.slice(1, -1);
    else v = v.replace(/\s+#.*$/, '');
    out[m[1]!] = v;
  }
  return out;
}

interface EnvFlags {
  token?: string;
  name?: string;
  shell: Shell;
  preset?: string;
  scopes?: string;
  budget?: string;
  expires: string;
  models?: string;
}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

function createToken(o: EnvFlags & { name: string }, globals: GlobalOptions): { token: Token; secret: string } {
  const fields = newTokenFields(o, scopesFromPreset('write'));
  const created = withTokens(globals, (tokens) => tokens.create({ name: o.name, ...fields }, 'cli'));
  const t = created.token;
  say(`# Created ${t.id} (${t.name}): scopes ${t.scopes.join(' ')}; budget ${formatUsd(t.budget)}${t.models ? `; models ${t.models.join(' ')}` : ''}.`);
  say('# Its secret is in these variables only (the sidecar keeps a hash), and each run creates a new token.');
  say(`# For a shell profile, give it an env sink once (skillboss-sidecar token rotate ${t.id} --write-env PATH)`);
  say(`# and use: eval "$(skillboss-sidecar env --token ${t.id})"`);
  return created;
}

export function fromSink(tokens: TokenStore, id: string): { secret: string; baseUrl: string | undefined } {
  const t = tokens.get(id);
  if (!t) throw new CliError(`no token with id ${id} (see skillboss-sidecar token list)`);
  if (t.revokedAt !== null) throw new CliError(`${id} is revoked; create a new token with \`skillboss-sidecar env --name NAME\``);
  if (t.expiresAt !== null && t.expiresAt <= Date.now()) throw new CliError(`${id} has expired; create a new token with \`skillboss-sidecar env --name NAME\``);
  const sink = t.meta.envSink;
  if (!sink) {
    throw new CliError(
      `${id} has no env sink, and its secret was shown only once, when it was created (the sidecar keeps only a hash). ` +
        `Run \`skillboss-sidecar token rotate ${id} --write-env PATH\` for a new secret kept in an env sink from now on ` +
        '(the old secret keeps working for the grace period), ' +
        'or `skillboss-sidecar env --name NAME` for a new token.',
    );
  }
  let text: string;
  try {
    text = readFileSync(sink, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read the env sink of ${id} (${sink}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const vars = parseDotEnv(text);
  const secret = vars.OPENAI_API_KEY ?? vars.SKILLBOSS_API_KEY;
  if (!secret) throw new CliError(`the env sink of ${id} (${sink}) has no OPENAI_API_KEY or SKILLBOSS_API_KEY line`);
  // The file could be stale or edited by hand: only hand out a secret that really is this token's.
  const row = tokens.findSecret(hashToken(secret));
  if (!row || row.token_id !== id) throw new CliError(`the env sink of ${id} (${sink}) holds a secret that is not ${id}'s; rotate the token to rewrite it`);
  if (row.superseded_at !== null) say(`# Note: ${sink} holds a rotated secret of ${id} that stops working at ${new Date(row.grace_until ?? 0).toISOString()}.`);
  return { secret, baseUrl: vars.OPENAI_BASE_URL };
}

export function registerEnv(program: Command, globals: () => GlobalOptions): void {
  program
    .command('env')
    .description('print export lines (OPENAI_BASE_URL, OPENAI_API_KEY, SKILLBOSS_API_KEY) for an agent\'s shell: eval "$(skillboss-sidecar env --name my-agent)"')
    .option('--name <name>', 'create a new token with this name and print its variables')
    .option('--token <id>', 'print the variables of an existing token, from its env sink')
    .addOption(new Option('--shell <shell>', 'syntax of the lines (default: from $SHELL)').choices(SHELLS).default(defaultShell()))
    .option('--preset <preset>', 'with --name: read-only | write | admin (default write)')
    .option('--scopes <list>', 'with --name: comma-separated scopes instead of a preset')
    .option('--budget <usd>', 'with --name: monthly budget in USD')
    .option('--expires <when>', 'with --name: never | 30d | 90d | 365d | a date', 'never')
    .option('--models <list>', `with --name: ${MODELS_FLAG_HELP}`)
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  eval "$(skillboss-sidecar env --name my-agent --budget 5)"\n' +
        '  skillboss-sidecar env --name my-agent --shell fish | source\n' +
        '  skillboss-sidecar env --name my-agent --shell powershell | Invoke-Expression\n' +
        '  eval "$(skillboss-sidecar env --token tok_…)"   # a token with an env sink\n',
    )
    .action((o: EnvFlags) => {
      if (!o.name === !o.token) throw new CliError('give --name NAME to create a token, or --token ID to print an existing token\'s variables (one of them)');
      if (o.token && (o.preset || o.scopes || o.budget || o.models || o.expires !== 'never')) {
        throw new CliError('--preset, --scopes, --budget, --expires and --models apply to a new token (--name), not to --token');
      }
      const g = globals();
      const localBase = `${localBaseUrl(g)}${DEFAULT_BASE_PATH}`;
      let secret: string;
      let baseUrl = localBase;
      if (o.name !== undefined) {
        secret = createToken({ ...o, name: o.name }, g).secret;
      } else {
        const got = withTokens(g, (tokens) => fromSink(tokens, o.token!));
        secret = got.secret;
        baseUrl = got.baseUrl ?? localBase;
      }
      if (!isLocked(dataDirOf(g))) say(`# No daemon is running for this data dir yet; start it with \`skillboss-sidecar serve\` (agents will call ${baseUrl}).`);
      process.stdout.write(exportLines({ OPENAI_BASE_URL: baseUrl, OPENAI_API_KEY: secret, SKILLBOSS_API_KEY: secret }, o.shell));
    });
}
