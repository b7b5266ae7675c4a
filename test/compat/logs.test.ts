/**
 * Logs: JSON lines in <dataDir>/logs rotated by size (pino-roll), owner-only;
 * human-readable on a terminal (pino-pretty); every field not on the
 * allowlist redacted and every key-shaped string masked, whatever the caller
 * passed in.
 */
import { once } from 'node:events';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { SidecarEvents } from '../../proxy/core/events.js';
import { createLogger, logDir, logRequests, openLogFile, type LogFile } from '../../proxy/core/log.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sbs-logs-'));
  dirs.push(d);
  return d;
}

/** Closes the file (which writes everything buffered, in order) and reads its lines. */
async function lines(file: LogFile, dir: string): Promise<Array<Record<string, unknown>>> {
  const closed = once(file, 'close');
  file.end();
  await closed;
  const current = join(logDir(dir), 'current.log');
  return readFileSync(current, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

const TOKEN_SECRET = 'sk-sbl-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd';
const REAL_KEY = 'sk-live-0123456789abcdefghij';

describe('log file', () => {
  it('writes JSON lines to <dataDir>/logs, owner-only, with non-allowlisted fields redacted and keys masked', async () => {
    const dir = dataDir();
    const file = await openLogFile(dir);
    const log = createLogger({ destination: false, file });
    log.info(
      {
        tokenId: 'tok_abc',
        status: 402,
        authorization: `Bearer ${TOKEN_SECRET}`,
        body: { messages: [{ content: 'private prompt' }] },
        reason: `upstream said ${REAL_KEY} is bad`,
        detail: { route: '/v1/models', headers: { cookie: 'x' } },
        err: new Error(`failed with ${REAL_KEY}`),
      },
      `refused ${TOKEN_SECRET}`,
    );
    log.child({ requestId: 'req-1', apiKey: TOKEN_SECRET }).warn('from a child');
    const [first, second] = await lines(file, dir);
    expect(first).toMatchObject({ level: 30, tokenId: 'tok_abc', status: 402, authorization: '[redacted]', body: '[redacted]' });
    expect(first!.reason).toBe('upstream said sk-…ghij is bad');
    expect(first!.detail).toEqual({ route: '/v1/models', headers: '[redacted]' });
    expect(first!.err).toMatchObject({ type: 'Error', message: 'failed with sk-…ghij' });
    expect(first!.msg).toBe('refused sk-…abcd');
    expect(second).toMatchObject({ requestId: 'req-1', apiKey: '[redacted]', msg: 'from a child' });
    const raw = readFileSync(join(logDir(dir), 'current.log'), 'utf8');
    expect(raw).not.toContain(TOKEN_SECRET);
    expect(raw).not.toContain(REAL_KEY);
    expect(raw).not.toContain('private prompt');
    expect(statSync(logDir(dir)).mode & 0o777).toBe(0o700);
    const target = readdirSync(logDir(dir)).find((f) => /^sidecar\.\d+\.log$/.test(f))!;
    expect(statSync(join(logDir(dir), target)).mode & 0o777).toBe(0o600);
  });

  it('rotates by size and keeps only the newest files', async () => {
    const dir = dataDir();
    const file = await openLogFile(dir, { maxSize: '2k', keep: 2 });
    const log = createLogger({ destination: false, file });
    const numbered = () => readdirSync(logDir(dir)).filter((f) => /^sidecar\.\d+\.log$/.test(f));
    const cleanups: number[] = [];
    file.on('cleanup-complete', () => cleanups.push(numbered().length));
    for (let i = 0; i < 40; i++) {
      log.info({ count: i, reason: 'x'.repeat(200) }, 'filler');
      // pino-roll rolls when the stream drains; wait for it so every line is written before the next.
      await once(file, 'drain');
    }
    // About 12 KiB in 2 KiB files: several rolls, each followed by a clean-up of the oldest files.
    const newest = () => Math.max(...numbered().map((f) => Number(f.split('.')[1])));
    expect(newest()).toBeGreaterThanOrEqual(5);
    while (cleanups.length < newest() - 1) await once(file, 'cleanup-complete');
    const files = numbered();
    // The current file plus at most `keep` older ones, and the early ones are gone.
    expect(files.length).toBeLessThanOrEqual(3);
    expect(files).not.toContain('sidecar.1.log');
    expect(lstatSync(join(logDir(dir), 'current.log')).isSymbolicLink()).toBe(true);
    file.end();
  });

  it('one access-log line per request event, with ids and numbers only', async () => {
    const dir = dataDir();
    const file = await openLogFile(dir);
    const log = createLogger({ destination: false, file });
    const events = new SidecarEvents();
    const stop = logRequests(events, log);
    events.emit('request', {
      ts: 1, request_id: 'r1', token_id: 'tok_z', route: '/v1/chat/completions', model: 'gpt-4o-mini', prompt_tokens: 5, completion_tokens: 7,
      cost_micros: 9, status: 200, latency_ms: 12.6, streamed: true, error_code: null,
    });
    stop();
    events.emit('request', { ts: 2, request_id: 'r2', token_id: 'tok_z', route: '/v1/models', model: null, prompt_tokens: 0, completion_tokens: 0, cost_micros: 0, status: 200, latency_ms: 1, streamed: false, error_code: null });
    const got = await lines(file, dir);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ msg: 'request', request_id: 'r1', token_id: 'tok_z', route: '/v1/chat/completions', status: 200, latency_ms: 13, cost_micros: 9, streamed: true });
  });
});

describe('terminal', () => {
  it('is human-readable with pino-pretty, and redacted the same way', () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const log = createLogger({ pretty: true, destination: out });
    log.warn({ tokenId: 'tok_abc', secret: TOKEN_SECRET }, 'hello human');
    // eslint-disable-next-line no-control-regex
    const plain = text.replace(/\u001b\[[0-9;]*m/g, '');
    expect(plain).toMatch(/WARN.*hello human/);
    expect(plain).toContain('tokenId: "tok_abc"');
    expect(plain).toContain('secret: "[redacted]"');
    expect(plain).not.toContain(TOKEN_SECRET);
    expect(() => JSON.parse(plain.split('\n')[0]!)).toThrow();
  });

  it('is JSON off a terminal', () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    createLogger({ destination: out }).info({ status: 200 }, 'plain');
    expect(JSON.parse(text.trim())).toMatchObject({ msg: 'plain', status: 200 });
  });
});
