/**
 * The CLI: one parser whose help text is the spec; each command group lives
 * in commands/. Errors print one line (no stack) and set a non-zero exit code.
 */
import { Command, CommanderError } from 'commander';
import { SidecarError } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import { DatabaseError } from '../db/database.js';
import { KeyStoreUnavailable } from '../keychain/store.js';
import { DataDirLocked } from '../server/lock.js';
import { CliError, discoverRunningDaemon, type GlobalOptions } from './context.js';
import { evalFailureLine, printsForEval } from './eval-failure.js';
import { adoptShimSignals, releaseShimSignals, type ShimSignals } from './stop.js';

type Registrar = (program: Command, globals: () => GlobalOptions) => void;

/**
 * Each command group, loaded only when needed: `serve` should not pay for the
 * MCP SDK or the simulator at start-up. Order is the order of `--help`.
 */
const COMMANDS: Record<string, () => Promise<Registrar>> = {
  demo: async () => (await import('./commands/demo.js')).registerDemo,
  serve: async () => (await import('./commands/serve.js')).registerServe,
  simulator: async () => (await import('./commands/simulator.js')).registerSimulator,
  key: async () => (await import('./commands/key.js')).registerKey,
  token: async () => (await import('./commands/token.js')).registerToken,
  requests: async () => (await import('./commands/requests.js')).registerRequests,
  usage: async () => (await import('./commands/usage.js')).registerUsage,
  price: async () => (await import('./commands/price.js')).registerPrice,
  doctor: async () => (await import('./commands/doctor.js')).registerDoctor,
  status: async () => (await import('./commands/status.js')).registerStatus,
  audit: async () => (await import('./commands/audit.js')).registerAudit,
  rotation: async () => (await import('./commands/rotation.js')).registerRotation,
  env: async () => (await import('./commands/env.js')).registerEnv,
  connect: async () => (await import('./commands/connect.js')).registerConnect,
  completion: async () => (await import('./commands/completion.js')).registerCompletion,
  open: async () => (await import('./commands/open.js')).registerOpen,
  mcp: async () => (await import('./commands/mcp.js')).registerMcp,
};

/**
 * Commands that act on a running daemon's data, so without --data-dir they
 * look for the sidecar the human started (context.ts `dataDirOf`). `serve`,
 * `demo` and `key` never do: they must not land in a demo's throwaway dir.
 */
const FIND_RUNNING_DAEMON = new Set(['token', 'env', 'connect', 'open', 'status', 'doctor', 'usage', 'requests', 'audit', 'rotation', 'price']);

/** The program with every command, with just `only` (what `main` runs), or with none (`''`, for --version). */
/** For the bundle's loader (core/code-cache.ts): `serve` ends start-up at its first served request, other commands at exit. */
export { onStartupDone } from '../core/startup.js';

export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command();
  program
    .name('skillboss-sidecar')
    .description('Let AI agents use the SkillBoss API through scoped, budgeted local tokens; the real key stays in the OS keychain.')
    .version(VERSION)
    .option('--data-dir <dir>', 'where the database lives (env SKILLBOSS_SIDECAR_DATA_DIR; default: the platform data dir)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const names = only === '' ? [] : only && only in COMMANDS ? [only] : Object.keys(COMMANDS);
  const registrars = await Promise.all(names.map((n) => COMMANDS[n]!()));
  for (const register of registrars) register(program, globals);
  return program;
}

/** The command named on the command line (the first word that is not an option or its value). */
function commandOf(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--data-dir') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/** `signals`: what the bin shim caught while the CLI loaded; `serve` takes it over, every other command lets go of it. */
export async function main(argv: string[], signals?: ShimSignals): Promise<void> {
  const args = argv.slice(2);
  const cmd = commandOf(args);
  adoptShimSignals(signals);
  if (cmd !== 'serve') releaseShimSignals();
  const versionOnly = cmd === undefined && (args.includes('--version') || args.includes('-V'));
  // `completion` walks the whole command tree, and an unknown word needs every command for suggestions.
  const program = await buildProgram(versionOnly ? '' : cmd === 'completion' ? undefined : cmd);
  discoverRunningDaemon(cmd !== undefined && FIND_RUNNING_DAEMON.has(cmd));
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const forEval = printsForEval(args, cmd) && !process.stdout.isTTY;
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      if (forEval && err.exitCode !== 0) process.stdout.write(evalFailureLine(err.message.replace(/^error: /, ''), args));
      return;
    }
    const known = err instanceof CliError || err instanceof SidecarError || err instanceof DatabaseError || err instanceof KeyStoreUnavailable || err instanceof DataDirLocked;
    const message = known ? (err as Error).message : String((err as Error)?.stack ?? err);
    process.stderr.write(`skillboss-sidecar: ${message}\n`);
    if (forEval) process.stdout.write(evalFailureLine(known ? message : String((err as Error)?.message ?? err), args));
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  }
}
