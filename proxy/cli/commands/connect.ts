/**
 * `connect AGENT`: one command from "installed an agent" to "the agent uses
 * the sidecar". It gives the agent a token of its own (reused on the next run
 * through the token's env sink, so running it twice does not mint a second
 * one) and writes the agent's own configuration (backed up, with a diff), or
 * prints it (--print) as lines to paste or eval. The per-agent formats are in
 * cli/connect/agents.ts.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { formatUsd } from '../../core/money.js';
import { writeEnvSink } from '../../lifecycle/envsink.js';
import { setEnvSink } from '../../lifecycle/rotation.js';
import type { Scope } from '../../tokens/scopes.js';
import { isLocked } from '../../server/lock.js';
import type { Token } from '../../tokens/store.js';
import { AGENTS, ConfigParseError, RUN_HINT, TARGETS, type Agent, type ConnectInput } from '../connect/agents.js';
import { readIfExists, replaceFile, unifiedDiff } from '../connect/files.js';
import { recordConnected, undoConnect } from '../connect/undo.js';
import { listRunning } from '../running.js';
import { escapeUnprintable } from '../../core/text.js';
import { CliError, dataDirOf, openDb, withTokens, type GlobalOptions } from '../context.js';
import { pickClaudeModels, servedChatModels } from '../connect/models.js';
import { MODELS_FLAG_HELP, newTokenFields } from '../token-options.js';
import { DEFAULT_BASE_PATH, localBaseUrl } from '../urls.js';
import { cliName } from './demo.js';
import { defaultShell, exportLines, fromSink, SHELLS, type Shell } from './env.js';
import { cliLifecycle } from './rotation.js';

/** Coding agents call models and nothing else: no services, billing or child tokens unless asked. */
export const CONNECT_SCOPES: Scope[] = ['models:read', 'models:use'];
export const CONNECT_BUDGET_USD = '10';
export const CONNECT_MODEL = 'claude-4-5-sonnet';

interface ConnectFlags {
  undo?: boolean;
  print?: boolean;
  write?: boolean;
  dryRun?: boolean;
  config?: string;
  model?: string;
  name?: string;
  envFile?: string;
  preset?: string;
  scopes?: string;
  budget: string;
  models?: string;
  expires: string;
  shell: Shell;
}

interface AgentToken {
  /** Null in a dry run that would create one. */
  token: Token | null;
  secret: string;
  reused: boolean;
}

const say = (line: string) => process.stderr.write(`${line}\n`);

/** The agent's token: the live one whose env sink is `envFile`, else a new one with that sink. */
function agentToken(g: GlobalOptions, agent: Agent, o: ConnectFlags, envFile: string): AgentToken {
  const fields = newTokenFields(o, CONNECT_SCOPES);
  return withTokens(g, (tokens, db) => {
    const now = Date.now();
    const existing = tokens.list().find((t) => t.meta.envSink === envFile && t.revokedAt === null && (t.expiresAt === null || t.expiresAt > now));
    if (existing) {
      try {
        return { token: existing, secret: fromSink(tokens, existing.id).secret, reused: true };
      } catch (err) {
        say(`# Not reusing ${existing.id}: ${(err as Error).message}`);
      }
    }
    if (o.dryRun) return { token: null, secret: '<new token>', reused: false };
    const c = tokens.create({ name: o.name ?? agent, ...fields }, 'cli');
    mkdirSync(dirname(envFile), { recursive: true, mode: 0o700 });
    const ctx = cliLifecycle(g, db, tokens);
    setEnvSink(ctx, c.token.id, envFile, 'cli');
    writeEnvSink(envFile, { secret: c.secret, baseUrl: ctx.agentBaseUrl(), tokenId: c.token.id, tokenName: c.token.name });
    return { token: c.token, secret: c.secret, reused: false };
  });
}

/** The model(s) to configure: --model, else (for Claude Code) one the last model sync listed. */
function modelsFor(agent: Agent, o: ConnectFlags, g: GlobalOptions): Pick<ConnectInput, 'model' | 'smallModel'> {
  if (agent !== 'claude') return { model: o.model ?? CONNECT_MODEL };
  const db = openDb(g);
  let served: string[];
  try {
    served = servedChatModels(db);
  } finally {
    db.close();
  }
  const picked = pickClaudeModels(served, o.model);
  if (picked) return { model: picked.model, smallModel: picked.small };
  say(`# No model list synced yet (the daemon syncs it when it starts); using ${CONNECT_MODEL}. Pass --model to choose.`);
  return { model: CONNECT_MODEL };
}

function describe(t: AgentToken, envFile: string): string {
  if (!t.token) return `# A new token would be created, its secret kept in ${envFile}.`;
  const k = t.token;
  return (
    `# ${t.reused ? 'Reusing' : 'Created'} ${k.id} (${escapeUnprintable(k.name)}): scopes ${k.scopes.join(' ')}; budget ${formatUsd(k.budget)}${k.budget === null ? '' : '/month'}${k.models ? `; models ${k.models.join(' ')}` : ''}. ` +
    `Its secret is in ${envFile}, rewritten at every rotation.`
  );
}

function run(agent: Agent, o: ConnectFlags, g: GlobalOptions): void {
  const target = TARGETS[agent];
  if (o.print && o.write) throw new CliError('give --print or --write, not both');
  if (o.write && !target.file) throw new CliError(`${agent} has no configuration file to write; run \`${cliName()} connect ${agent}\` to print what it needs`);
  const mode = o.print || !target.file ? 'print' : 'write';
  const dataDir = dataDirOf(g);
  const envFile = resolve(o.envFile ?? join(dataDir, 'agents', `${agent}.env`));
  const input: ConnectInput = { baseUrl: `${localBaseUrl(g)}${DEFAULT_BASE_PATH}`, envFile, ...modelsFor(agent, o, g) };
  const dirFlag = g.dataDir !== undefined ? ` --data-dir ${dataDir}` : '';
  if (!existsSync(dataDir) || !isLocked(dataDir)) say(`# No sidecar is running for ${dataDir} yet; start it with \`${cliName()} serve\` (the agent will call ${input.baseUrl}).`);
  const envLine = (t: AgentToken) => `eval "$(${cliName()}${dirFlag} env --token ${t.token?.id ?? 'tok_…'})"`;
  const demo = listRunning().some((d) => d.kind === 'demo' && d.dataDir === resolve(dataDir));

  if (mode === 'print') {
    const t = agentToken(g, agent, o, envFile);
    say(describe(t, envFile));
    const p = target.print;
    if (p?.env) process.stdout.write(exportLines(p.env(input, t.secret), o.shell));
    else if (p?.text) process.stdout.write(p.text(input, t.secret));
    else {
      process.stdout.write(target.file!.merge(null, input));
      say(`# Paste this into ${target.file!.defaultPath()}; ${agent} reads the token from SKILLBOSS_API_KEY: ${envLine(t)}`);
    }
    if (p?.env) say(`# For this shell: eval "$(${cliName()}${dirFlag} connect ${agent} --print)"`);
    if (demo) say(`# ${demoNote(agent, false)}`);
    return;
  }

  const file = target.file!;
  const path = resolve(o.config ?? file.defaultPath());
  const before = readIfExists(path);
  let after: string;
  try {
    after = file.merge(before, input);
  } catch (err) {
    if (err instanceof ConfigParseError) throw new CliError(`cannot merge into ${path}: ${err.message}. Nothing was changed; \`--print\` shows the settings to add by hand.`);
    throw err;
  }
  const t = agentToken(g, agent, o, envFile);
  const out = process.stdout;
  if (before === after) {
    out.write(`${path} already connects ${agent} to the sidecar; nothing to change.\n`);
  } else {
    out.write(unifiedDiff(path, before, after));
    if (o.dryRun) out.write(`\n(dry run: ${path} was not changed${t.token ? '' : ' and no token was created'})\n`);
    else {
      const w = replaceFile(path, before, after);
      out.write(`\nWrote ${path}${w.backup ? ` (the previous version is in ${w.backup})` : ''}.\n`);
      if (demo) recordConnected(dataDir, { agent, path, backup: w.backup });
    }
  }
  out.write(`${describe(t, envFile).slice(2)}\n`);
  if (agent === 'claude') out.write(`Claude Code reads the token through its apiKeyHelper and uses ${input.model}; start it with: claude\n`);
  else out.write(`${agent} reads the token from SKILLBOSS_API_KEY. Start it with the token in its environment:\n\n  ${envLine(t)} && ${RUN_HINT[agent]}\n`);
  if (demo) out.write(`\n${demoNote(agent, true)}\n`);
}

/** Said by `connect` while the demo runs: what it wrote dies with the demo, and how to move it to a real sidecar. */
function demoNote(agent: Agent, wrote: boolean): string {
  const cli = cliName();
  return (
    `This points ${agent} at the demo, a throwaway sidecar: its data dir (and this token) are deleted when the demo stops, and ${agent} then fails. ` +
    `To point it at a real sidecar later, start one (\`${cli} serve\` with your key, see "Using it for real") and run \`${cli} connect ${agent}\` again` +
    (wrote ? `; \`${cli} connect --undo ${agent}\` puts your previous configuration back.` : '.')
  );
}

/** `connect --undo AGENT`: the newest backup of the agent's configuration put back. */
function undo(agent: Agent, o: ConnectFlags): void {
  const target = TARGETS[agent];
  if (!target.file) throw new CliError(`connect only prints ${agent}'s settings, so there is no file to restore; drop the eval line (or unset the variables) instead`);
  const path = resolve(o.config ?? target.file.defaultPath());
  const u = undoConnect(path);
  if (!u.restored) {
    throw new CliError(`no backup of ${path} to restore${u.before === null ? ' (and no such file)' : ': connect created it, so delete it if you no longer want it'}`);
  }
  process.stdout.write(unifiedDiff(path, u.before, u.after ?? ''));
  process.stdout.write(`\nRestored ${path} from ${u.restored} (the backup is used up; an earlier one, if any, is next).\n`);
}

export function registerConnect(program: Command, globals: () => GlobalOptions): void {
  program
    .command('connect')
    .description('connect a coding agent: a token of its own, and its configuration written (backed up, with a diff) or printed')
    .argument('<agent>', AGENTS.join(' | '))
    .option('--print', 'print the configuration (or the variables, for eval) instead of writing a file')
    .option('--undo', 'put back the configuration file as it was before the last connect (its newest backup)')
    .option('--write', 'write the agent\'s configuration file (the default for codex, opencode, continue and claude)')
    .option('--dry-run', 'show what would change; write nothing and create no token')
    .option('--config <path>', 'the configuration file to write (default: the one the agent reads)')
    .option('--model <id>', `the model the agent uses (default: ${CONNECT_MODEL}; for claude, a claude-* model the upstream serves)`)
    .option('--name <name>', 'name of a new token (default: the agent\'s name)')
    .option('--env-file <path>', 'the token\'s env sink (default: <data dir>/agents/<agent>.env)')
    .option('--preset <preset>', 'scopes of a new token: read-only | write | admin (default: models:read models:use)')
    .option('--scopes <list>', 'scopes of a new token, comma-separated')
    .option('--budget <usd>', 'monthly budget of a new token in USD, or none', CONNECT_BUDGET_USD)
    .option('--expires <when>', 'expiry of a new token: never | 30d | 90d | 365d | a date', 'never')
    .option('--models <list>', `models of a new token: ${MODELS_FLAG_HELP}`)
    .addOption(new Option('--shell <shell>', 'syntax of printed variables (default: from $SHELL)').choices(SHELLS).default(defaultShell()))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  skillboss-sidecar connect codex              # ~/.codex/config.toml, backed up first\n' +
        '  skillboss-sidecar connect opencode --dry-run # show the diff only\n' +
        '  eval "$(skillboss-sidecar connect qwen)"     # Qwen Code reads OPENAI_* variables\n' +
        '  eval "$(skillboss-sidecar connect claude --print)"\n' +
        '  skillboss-sidecar connect --undo codex       # put the previous config.toml back\n',
    )
    .action((agent: string, o: ConnectFlags) => {
      if (!(AGENTS as readonly string[]).includes(agent)) throw new CliError(`unknown agent ${JSON.stringify(agent)}; choose one of: ${AGENTS.join(', ')}`);
      if (o.undo) {
        if (o.print || o.write || o.dryRun) throw new CliError('--undo takes no --print, --write or --dry-run');
        return undo(agent as Agent, o);
      }
      run(agent as Agent, o, globals());
    });
}
