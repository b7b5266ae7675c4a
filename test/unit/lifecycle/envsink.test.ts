/**
 * The env sink: owner-only, replaced atomically (a reader in another process
 * never sees a partial file), and no temp files left behind.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EnvSinkError, validateEnvSinkPath, writeEnvSink } from '../../../proxy/lifecycle/envsink.js';
import { generateTokenSecret } from '../../../proxy/tokens/format.js';
import { tempDir } from '../../helpers/stack.js';

const dir = tempDir('sbs-envsink-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const content = (secret: string) => ({ secret, baseUrl: 'http://127.0.0.1:7373/v1', tokenId: 'tok_abc', tokenName: 'agent' });

describe('the env sink', () => {
  it('writes the three variables, owner-only, even over a world-readable file', () => {
    const path = join(dir, 'a.env');
    writeFileSync(path, 'OLD=1\n', { mode: 0o644 });
    chmodSync(path, 0o644);
    const secret = generateTokenSecret();
    writeEnvSink(path, content(secret));
    const text = readFileSync(path, 'utf8');
    expect(text).toContain(`OPENAI_API_KEY=${secret}\n`);
    expect(text).toContain('OPENAI_BASE_URL=http://127.0.0.1:7373/v1\n');
    expect(text).toContain(`SKILLBOSS_API_KEY=${secret}\n`);
    expect(text).not.toContain('OLD=1');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('replaces the file by rename (a new inode each time) and leaves no temp file', () => {
    const path = join(dir, 'b.env');
    writeEnvSink(path, content(generateTokenSecret()));
    const first = statSync(path).ino;
    writeEnvSink(path, content(generateTokenSecret()));
    expect(statSync(path).ino).not.toBe(first);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('never shows a concurrent reader in another process a partial or empty file', async () => {
    const path = join(dir, 'c.env');
    writeEnvSink(path, content(generateTokenSecret()));
    // The reader reads in a tight loop until told to stop, counting reads that are not a whole file.
    const reader = spawn(process.execPath, [
      '-e',
      `const fs = require('fs'); let reads = 0, bad = 0;
       process.stdin.on('data', () => { process.stdout.write(JSON.stringify({ reads, bad })); process.exit(0); });
       (function loop() { for (let i = 0; i < 200; i++) { let t; try { t = fs.readFileSync(${JSON.stringify(path)}, 'utf8'); } catch { bad++; continue; }
         reads++; if (!/OPENAI_API_KEY=sk-sbl-\\w{38}\\nOPENAI_BASE_URL=\\S+\\nSKILLBOSS_API_KEY=sk-sbl-\\w{38}\\n$/.test(t)) bad++; } setImmediate(loop); })();
       process.stdout.write('ready\\n');`,
    ]);
    let out = '';
    reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve) => reader.stdout.once('data', () => resolve()));
    for (let i = 0; i < 300; i++) writeEnvSink(path, content(generateTokenSecret()));
    const done = new Promise<void>((resolve) => reader.on('close', () => resolve()));
    reader.stdin.write('stop\n');
    await done;
    const { reads, bad } = JSON.parse(out.replace(/^ready\n/, '')) as { reads: number; bad: number };
    expect(reads).toBeGreaterThan(0);
    expect(bad).toBe(0);
  });

  it('refuses a path whose directory does not exist, or a directory', () => {
    expect(() => validateEnvSinkPath(join(dir, 'missing', 'x.env'))).toThrow(EnvSinkError);
    mkdirSync(join(dir, 'sub'));
    expect(() => validateEnvSinkPath(join(dir, 'sub'))).toThrow(/is a directory/);
    expect(validateEnvSinkPath('rel.env', dir)).toBe(join(dir, 'rel.env'));
  });
});
