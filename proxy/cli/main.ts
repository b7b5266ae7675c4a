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
import { registerDemo } from './commands/demo.js';
import { registerDoctor } from './commands/doctor.js';
import { registerKey } from './commands/key.js';
import { registerPrice } from './commands/price.js';
import { registerServe } from './commands/serve.js';
import { registerSimulator } from './commands/simulator.js';
import { registerToken } from './commands/token.js';
import { registerUsage } from './commands/usage.js';
import { CliError, type GlobalOptions } from './context.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('skillboss-sidecar')
    .description('Let AI agents use the SkillBoss API through scoped, budgeted local tokens; the real key stays in the OS keychain.')
    .version(VERSION)
    .option('--data-dir <dir>', 'where the database lives (env SKILLBOSS_SIDECAR_DATA_DIR; default: the platform data dir)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  registerDemo(program);
  registerServe(program, globals);
  registerSimulator(program);
  registerKey(program, globals);
  registerToken(program, globals);
  registerUsage(program, globals);
  registerPrice(program, globals);
  registerDoctor(program, globals);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    const known = err instanceof CliError || err instanceof SidecarError || err instanceof DatabaseError || err instanceof KeyStoreUnavailable || err instanceof DataDirLocked;
    process.stderr.write(`skillboss-sidecar: ${known ? (err as Error).message : String((err as Error)?.stack ?? err)}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  }
}
