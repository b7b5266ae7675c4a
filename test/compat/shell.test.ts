/**
 * Shell integration with the real CLI: `eval "$(skillboss-sidecar env …)"`
 * then curl against a running `skillboss-sidecar serve`, the env sink of an
 * existing token, quoting in every shell, and completion scripts generated
 * from the commander tree and exercised in bash, zsh and fish.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bashCompletion, commandTree, fishCompletion, zshCompletion } from '../../proxy/cli/commands/completion.js';
import { exportLines, parseDotEnv, type Shell } from '../../proxy/cli/commands/env.js';
import { buildProgram } from '../../proxy/cli/main.js';
import { osKeychain } from '../../proxy/keychain/store.js';
import { startSimulator, type Simulator } from '../../proxy/simulator/index.js';
import { randomBase62 } from '../../proxy/tokens/format.js';
import { CLI, runCli, startCli, type Background } from '../helpers/cli.js';
import { tempDir } from '../helpers/stack.js';
import { runRecipe } from './recipes.js';

const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

/** Runs a shell script without blocking this process (the simulator answering the daemon lives here). */
function sh(shell: string, script: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(shell, ['-c', script], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

let sim: Simulator;
let dataDir: string;
let serve: Background;
let baseURL: string;
/** A directory with a `skillboss-sidecar` command on it, as an installed package provides. */
let binDir: string;
const simKey = `sk-test-${randomBase62(32)}`;

beforeAll(async () => {
  sim = await startSimulator({ apiKey: simKey, balanceUsd: 100 });
  dataDir = tempDir('sbs-shell-');
  osKeychain(dataDir).set(simKey);
  binDir = join(dataDir, 'bin');
  mkdirSync(binDir);
  writeFileSync(join(binDir, 'skillboss-sidecar'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  chmodSync(join(binDir, 'skillboss-sidecar'), 0o755);
  serve = startCli(['serve', '--port', '0', '--upstream', sim.url, '--data-dir', dataDir, '--no-log-file']);
  baseURL = (await serve.waitFor(/listening (http:\/\/\S+\/v1)/))[1]!;
});
afterAll(async () => {
  await serve?.stop();
  await sim?.close();
  try {
    osKeychain(dataDir).remove();
  } catch {
    /* already gone */
  }
  rmSync(dataDir, { recursive: true, force: true });
});

const withBin = () => ({ PATH: `${binDir}:${process.env.PATH}` });

// Each case spawns the real CLI a few times; on a busy two-core machine that is seconds per spawn.
describe('env', { timeout: 120_000 }, () => {
  it('eval "$(skillboss-sidecar env --name x --data-dir D)" then curl works against the running serve', async () => {
    const r = await sh(
      'bash',
      `set -e
eval "$(skillboss-sidecar env --name x --data-dir '${dataDir}')"
curl -sS "$OPENAI_BASE_URL/chat/completions" -H "Authorization: Bearer $OPENAI_API_KEY" -H 'Content-Type: application/json' \\
  -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi from eval"}]}'
echo
echo "base=$OPENAI_BASE_URL same=$([ "$OPENAI_API_KEY" = "$SKILLBOSS_API_KEY" ] && echo yes)"`,
      withBin(),
    );
    expect(r.code, r.stderr).toBe(0);
    const [json, tail] = r.stdout.trim().split('\n');
    expect((JSON.parse(json!) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe('Echo: hi from eval');
    // The base URL is the running daemon's (port 0 picked a free one), not the default.
    expect(tail).toBe(`base=${baseURL} same=yes`);
    // The notes for the human went to stderr, where eval does not see them.
    expect(r.stderr).toMatch(/# Created tok_\w+ \(x\)/);
  });

  it('the README recipe (docs/recipes/shell-env.sh) runs as written', async () => {
    const r = await runRecipe('shell-env.sh', { ...withBin(), SKILLBOSS_SIDECAR_DATA_DIR: dataDir });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).choices[0].message.content).toBe('Echo: Hello');
    const list = await runCli(['token', 'list', '--json', '--data-dir', dataDir]);
    const names = (JSON.parse(list.stdout) as { tokens: Array<{ name: string; scopes: string[] }> }).tokens;
    expect(names.find((t) => t.name === 'my-agent')?.scopes).toEqual(expect.arrayContaining(['models:use', 'services:use']));
  });

  it('prints only export lines on stdout; --preset, --budget and --shell are honoured', async () => {
    const r = await runCli(['env', '--name', 'reader', '--preset', 'read-only', '--budget', '2.5', '--shell', 'fish', '--data-dir', dataDir]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.map((l) => l.split(' ').slice(0, 3).join(' '))).toEqual(['set -gx OPENAI_BASE_URL', 'set -gx OPENAI_API_KEY', 'set -gx SKILLBOSS_API_KEY']);
    const list = JSON.parse((await runCli(['token', 'list', '--json', '--data-dir', dataDir])).stdout) as { tokens: Array<{ name: string; scopes: string[]; monthly_budget: number | null }> };
    const reader = list.tokens.find((t) => t.name === 'reader')!;
    expect(reader.scopes).not.toContain('models:use');
    expect(reader.monthly_budget).toBe(2.5);
  });

  it('--token prints an existing token\'s variables from its env sink, and explains when there is none', async () => {
    const sink = join(dataDir, 'agent.env');
    const created = await runCli(['token', 'create', '--name', 'sinky', '--preset', 'write', '--write-env', sink, '--json', '--data-dir', dataDir]);
    expect(created.code, created.stderr).toBe(0);
    const { id, api_key } = JSON.parse(created.stdout) as { id: string; api_key: string };
    const r = await sh('bash', `eval "$(skillboss-sidecar env --token ${id} --data-dir '${dataDir}')" && echo "$OPENAI_API_KEY"`, withBin());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(api_key);

    const bare = JSON.parse((await runCli(['token', 'create', '--name', 'bare', '--preset', 'write', '--json', '--data-dir', dataDir])).stdout) as { id: string };
    const refused = await runCli(['env', '--token', bare.id, '--data-dir', dataDir]);
    expect(refused.code).toBe(1);
    // Not a terminal, so for eval: the reason again, on stderr, and a failing status (issue 26).
    expect(refused.stdout).toMatch(/^echo 'skillboss-sidecar: .*shown only once.*' >&2; false\n$/);
    expect(refused.stderr).toContain('shown only once');
    expect(refused.stderr).toContain(`token rotate ${bare.id}`);

    // A sink holding someone else's secret is refused rather than handed out.
    writeFileSync(sink, `OPENAI_API_KEY=${(JSON.parse((await runCli(['token', 'create', '--name', 'other', '--preset', 'write', '--json', '--data-dir', dataDir])).stdout) as { api_key: string }).api_key}\n`);
    const wrong = await runCli(['env', '--token', id, '--data-dir', dataDir]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('not ' + id);
  });

  it('refuses to guess: neither or both of --name and --token', async () => {
    for (const args of [[], ['--name', 'a', '--token', 'tok_x']]) {
      const r = await runCli(['env', ...args, '--data-dir', dataDir]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^echo 'skillboss-sidecar: .*--name NAME.*' >&2; false\n$/);
      expect(r.stderr).toContain('--name NAME');
    }
  });

  it('eval "$(… env …)" and eval "$(… connect qwen)" with two sidecars running and none chosen: the reason, and a non-zero status, in bash and zsh', async () => {
    const home = tempDir('sbs-two-home-');
    const isolated = { HOME: home, XDG_DATA_HOME: join(home, 'data'), XDG_RUNTIME_DIR: '', SKILLBOSS_SIDECAR_RUNTIME_DIR: join(home, 'run') };
    const two = [tempDir('sbs-two-a-'), tempDir('sbs-two-b-')].map((d) => startCli(['serve', '--port', '0', '--upstream', sim.url, '--data-dir', d, '--no-log-file'], isolated));
    try {
      await Promise.all(two.map((d) => d.waitFor(/listening/)));
      for (const shell of ['bash', 'zsh'].filter(has)) {
        for (const cmd of ['env --name x', 'connect qwen']) {
          const r = await sh(shell, `unset SKILLBOSS_SIDECAR_DATA_DIR; eval "$(skillboss-sidecar ${cmd})" && echo REACHED; echo "status=$? key=[$OPENAI_API_KEY]"`, { ...withBin(), ...isolated, OPENAI_API_KEY: '' });
          expect(r.stdout, `${shell}: ${cmd}`).not.toContain('REACHED');
          expect(r.stdout).toMatch(/status=1 key=\[\]/);
          // Once from the command itself, once from the line eval ran.
          expect(r.stderr.match(/several sidecars are running/g), r.stderr).toHaveLength(2);
        }
      }
    } finally {
      await Promise.all(two.map((d) => d.stop()));
    }
  });

  const nasty = `it's "$(touch /tmp/pwned)" \`x\` $HOME \\ back; %s`;
  const env = { OPENAI_BASE_URL: nasty, OPENAI_API_KEY: 'sk-sbl-abc', SKILLBOSS_API_KEY: 'sk-sbl-abc' };
  const shells: Array<[Shell, string, string]> = [
    ['bash', 'bash', 'eval "$(cat "$F")"; printf %s "$OPENAI_BASE_URL"'],
    ['zsh', 'zsh', 'eval "$(cat "$F")"; printf %s "$OPENAI_BASE_URL"'],
    ['fish', 'fish', 'source $F; printf %s "$OPENAI_BASE_URL"'],
  ];
  for (const [shell, bin, script] of shells) {
    it.skipIf(!has(bin))(`quotes values so ${shell} reads them back unchanged and runs nothing`, async () => {
      const f = join(dataDir, `exports.${shell}`);
      writeFileSync(f, exportLines(env, shell));
      const r = await sh(bin, script, { F: f });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(nasty);
    });
  }
  it('PowerShell lines double single quotes', () => {
    expect(exportLines(env, 'powershell').split('\n')[0]).toBe(`$env:OPENAI_BASE_URL = '${nasty.replace(/'/g, "''")}'`);
  });

  it('reads .env files as dotenv does', () => {
    expect(parseDotEnv('# c\nexport A=1\nB="two words"\nC=\'x\'\nD=plain # comment\n bad line\n')).toEqual({ A: '1', B: 'two words', C: 'x', D: 'plain' });
  });
});

describe('completion', { timeout: 120_000 }, () => {
  it('is generated from the commander tree: a newly registered command and flag complete', async () => {
    const program = await buildProgram();
    program.command('frobnicate').option('--wibble <file>', 'a file');
    const tree = commandTree(program);
    for (const script of [bashCompletion(tree), zshCompletion(tree), fishCompletion(tree)]) {
      expect(script).toContain('frobnicate');
      expect(script).toContain('wibble');
    }
  });

  it('prints a script for each shell; an unknown shell is refused', async () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const r = await runCli(['completion', shell]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('skillboss-sidecar');
    }
    const bad = await runCli(['completion', 'tcsh']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('tcsh');
  });

  async function script(shell: string): Promise<string> {
    const f = join(dataDir, `completion.${shell}`);
    writeFileSync(f, (await runCli(['completion', shell])).stdout);
    return f;
  }

  it('bash: completes commands, subcommands, flags and flag values', async () => {
    const f = await script('bash');
    const complete = async (line: string) => {
      const words = line.split(' ');
      const r = await sh('bash', `source "${f}"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _skillboss_sidecar; printf '%s\\n' "\${COMPREPLY[@]}"`);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim().split('\n').filter(Boolean);
    };
    expect(await complete('skillboss-sidecar to')).toEqual(['token']);
    expect(await complete('skillboss-sidecar token cr')).toEqual(['create']);
    expect(await complete('skillboss-sidecar --data-dir /tmp/x token cr')).toEqual(['create']);
    expect(await complete('skillboss-sidecar token create --bu')).toEqual(['--budget']);
    expect(await complete('skillboss-sidecar env --shell f')).toEqual(['fish']);
    expect(await complete('skillboss-sidecar completion z')).toEqual(['zsh']);
    expect(await complete('skillboss-sidecar serve --')).toEqual(expect.arrayContaining(['--port', '--metrics', '--data-dir', '--help']));
  });

  it.skipIf(!has('zsh'))('zsh: the script loads under compinit and offers the right candidates', async () => {
    const f = await script('zsh');
    // _describe and compadd are replaced by printers, so the function's choices can be read without a terminal.
    const candidates = async (line: string) => {
      const words = line.split(' ');
      const r = await sh(
        'zsh',
        `autoload -U compinit && compinit -u -D; source "${f}"
_describe() { local a; for a in \${(P)\${@[-1]}}; do print -r -- "\${a%%:*}"; done; }
compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }
words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; PREFIX='${words.at(-1)}'
_skillboss_sidecar`,
      );
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim().split('\n').filter((c) => c.startsWith(words.at(-1)!));
    };
    expect(await candidates('skillboss-sidecar to')).toEqual(['token']);
    expect(await candidates('skillboss-sidecar token cr')).toEqual(['create']);
    expect(await candidates('skillboss-sidecar env --shell p')).toEqual(['powershell']);
    expect(await candidates('skillboss-sidecar serve --met')).toEqual(['--metrics']);
  });

  it.skipIf(!has('fish'))('fish: complete -C offers the right candidates', async () => {
    const f = await script('fish');
    const candidates = async (line: string) => {
      const r = await sh('fish', `source "${f}"; complete -C '${line}'`);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim().split('\n').map((l) => l.split('\t')[0]!);
    };
    expect(await candidates('skillboss-sidecar to')).toEqual(['token']);
    expect(await candidates('skillboss-sidecar token cr')).toEqual(['create']);
    expect(await candidates('skillboss-sidecar token create --bu')).toEqual(['--budget']);
    expect(await candidates('skillboss-sidecar env --shell ')).toEqual(expect.arrayContaining(['bash', 'zsh', 'fish', 'powershell']));
  });
});
