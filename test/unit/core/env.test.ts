/**
 * Issue 28: one helper reads settings from the environment (core/env.ts), an
 * empty or blank variable is not set, and an empty flag is refused. A scan
 * of proxy/ and main/ finds no other read of an environment variable, so a
 * new one cannot skip the rule; the scan is shown to catch each way one was
 * read before.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveDataDir, resolveUpstream, DEFAULT_UPSTREAM } from '../../../proxy/core/config.js';
import { envSetting, EmptySetting } from '../../../proxy/core/env.js';
import { runtimeDir } from '../../../proxy/cli/running.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** A read of one variable: `process.env.X`, `process.env[x]`, or `env.X` / `env[x]` of an env object passed in (writes and deletes of a settings object are not reads). */
const ENV_READ = /process\.env(?:\.\w|\[)|(?<!delete |[\w/.])env(?:\.[A-Za-z_]\w*\b|\[[^\]]+\])(?!\s*=[^=])/g;

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.c?ts$/.test(e.name) && !e.name.endsWith('.d.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

function reads(file: string, text: string): string[] {
  return [...text.matchAll(ENV_READ)].map((m) => `${file}:${text.slice(0, m.index).split('\n').length}: ${m[0]}`);
}

describe('environment settings', () => {
  it('are read through core/env.ts alone', () => {
    const files = [...sources('proxy'), ...sources('main')].filter((f) => f !== 'proxy/core/env.ts');
    expect(files.length).toBeGreaterThan(100);
    expect(files.flatMap((f) => reads(f, readFileSync(join(ROOT, f), 'utf8')))).toEqual([]);
  });

  it('the scan catches the reads that made an empty variable the working directory', () => {
    for (const line of ['flag ?? env.SKILLBOSS_SIDECAR_DATA_DIR ?? x', 'if (process.env.SKILLBOSS_SIDECAR_DATA_DIR)', 'process.env[KEY_STORE_ENV]', 'env[PASSPHRASE_ENV]', "process.env.CODEX_HOME || join(home, '.codex')"]) {
      expect(reads('x.ts', line), line).toHaveLength(1);
    }
    for (const line of ['env.ANTHROPIC_BASE_URL = base;', 'delete env.ANTHROPIC_API_KEY;', "envSetting('SHELL', env)", 'env: NodeJS.ProcessEnv = process.env', "import { x } from './env.js';"]) expect(reads('x.ts', line), line).toEqual([]);
  });

  it('an empty or blank variable is not set; a value is used as given', () => {
    expect(envSetting('X', { X: '' })).toBeUndefined();
    expect(envSetting('X', { X: ' \t' })).toBeUndefined();
    expect(envSetting('X', {})).toBeUndefined();
    expect(envSetting('X', { X: ' /a b ' })).toBe(' /a b ');
  });

  it('an empty data dir, runtime dir or upstream is the default, never the working directory', () => {
    const env = { HOME: homedir(), XDG_DATA_HOME: '', SKILLBOSS_SIDECAR_DATA_DIR: '  ', SKILLBOSS_SIDECAR_RUNTIME_DIR: '', XDG_RUNTIME_DIR: ' ', SKILLBOSS_UPSTREAM_URL: '' };
    expect(resolveDataDir(undefined, env)).not.toBe(process.cwd());
    expect(resolveDataDir(undefined, env)).toBe(resolveDataDir(undefined, {}));
    expect(runtimeDir(env)).toBe(runtimeDir({}));
    expect(resolveUpstream(undefined, env)).toBe(DEFAULT_UPSTREAM);
    expect(resolveDataDir('.', env)).toBe(resolve('.'));
  });

  it('an empty flag is refused, naming it', () => {
    expect(() => resolveDataDir('')).toThrow(EmptySetting);
    expect(() => resolveDataDir(' ')).toThrow(/--data-dir was given an empty value.*--data-dir \./);
    expect(() => resolveUpstream('')).toThrow(/--upstream was given an empty value/);
  });
});
