/**
 * Runs the copy-paste recipes in docs/recipes/ exactly as a user would after
 * `eval "$(skillboss-sidecar env …)"`: as their own process, with nothing but
 * the environment variables the sidecar prints.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RECIPES_DIR = fileURLToPath(new URL('../../docs/recipes/', import.meta.url));

export function recipeNames(): string[] {
  return readdirSync(RECIPES_DIR).filter((f) => /\.(mjs|py|sh)$/.test(f)).sort();
}

export function recipeText(name: string): string {
  return readFileSync(RECIPES_DIR + name, 'utf8');
}

/** The sidecar variables as `skillboss-sidecar env` exports them. */
export function agentEnv(baseURL: string, secret: string): NodeJS.ProcessEnv {
  return { OPENAI_BASE_URL: baseURL, OPENAI_API_KEY: secret, SKILLBOSS_API_KEY: secret };
}

const INTERPRETER: Record<string, string> = { '.mjs': process.execPath, '.py': 'python3', '.sh': 'bash' };

export interface RecipeRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** performance.now() when each stdout line arrived. */
  lineTimes: Array<{ line: string; at: number }>;
}

export function runRecipe(name: string, env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<RecipeRun> {
  const interpreter = INTERPRETER[extname(name)];
  if (!interpreter) throw new Error(`no interpreter for ${name}`);
  return new Promise((resolve, reject) => {
    // The user's environment plus the sidecar's variables; nothing else is configured.
    const child = spawn(interpreter, [RECIPES_DIR + name], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    const lineTimes: RecipeRun['lineTimes'] = [];
    child.stdout.on('data', (d: Buffer) => {
      const now = performance.now();
      stdout += d.toString();
      partial += d.toString();
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const line of lines) lineTimes.push({ line, at: now });
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, lineTimes });
    });
  });
}
