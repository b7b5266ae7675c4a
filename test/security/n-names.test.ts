/**
 * Issue 17 item 5: names an agent (or anyone) chooses end up in the human's
 * terminal. Control characters (ESC sequences: screen clear, OSC 52 clipboard
 * write), NUL, bidi overrides and CR/LF are refused on every path in — agent
 * API, admin API, CLI, access requests — by one rule; and `token list` /
 * `token tree` print anything unexpected already stored as a visible escape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { adminSecret, call } from './kit.js';

let s: Stack;
let parent: string;

beforeAll(async () => {
  s = await startStack();
  parent = s.token({ preset: 'admin' }).secret;
});
afterAll(async () => {
  await s?.close();
});

const HOSTILE: Array<[string, string]> = [
  ['ESC screen clear', 'evil\x1b[2J\x1b[H'],
  ['OSC 52 clipboard write', 'evil\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07'],
  ['NUL', 'evil\x00agent'],
  ['bidi override', 'agent\u202Egnp.exe'],
  ['bidi isolate', 'agent\u2066x\u2069'],
  ['CR/LF', 'ok-agent\r\nrevoked-agent'],
  ['DEL', 'evil\x7f'],
  ['C1 CSI', 'evil\u009b2J'],
  ['zero-width', 'ad\u200bmin'],
];

const admin = (method: string, path: string, body: unknown) =>
  fetch(`${s.daemon.url}/admin/api${path}`, { method, headers: { authorization: `Bearer ${adminSecret(s)}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('N. names with terminal escapes (issue 17 item 5)', () => {
  it.each(HOSTILE)('N1 agent API: a child named with %s is refused (both minting routes), and nothing is created', async (_what, name) => {
    const before = s.tokens.list().length;
    const key = await call(s, parent, 'POST', '/v1/api-keys', { name, scopes: ['models:read'] });
    expect(key.status).toBe(400);
    const child = await call(s, parent, 'POST', '/v1/agents/create-child', { child_name: name, scopes: ['models:read'] });
    expect(child.status).toBe(400);
    expect(((await child.json()) as { error: { message: string } }).error.message).toContain('printable');
    expect(s.tokens.list().length).toBe(before);
  });

  it.each(HOSTILE)('N2 admin API: creating or renaming a token to a name with %s is refused', async (_what, name) => {
    const created = await admin('POST', '/tokens', { name, preset: 'read-only' });
    expect(created.status).toBe(400);
    const t = s.token({ name: 'plain' });
    const renamed = await admin('PATCH', `/tokens/${t.token.id}`, { name });
    expect(renamed.status).toBe(400);
    expect(s.tokens.get(t.token.id)!.name).toBe('plain');
  });

  it('N3 access requests follow the same rule (it was already there)', async () => {
    const r = await call(s, null, 'POST', '/v1/agents/request-access', { name: 'ok-agent\r\nrevoked', scopes: ['models:read'], monthly_budget: 1 });
    expect(r.status).toBe(400);
  });

  it('N4 CLI: `token create --name` with an escape sequence is refused with a clear message', async () => {
    const before = s.tokens.list().length;
    const out = await runCli(['--data-dir', s.dataDir, 'token', 'create', '--name', 'evil\x1b]52;c;aGk=\x07', '--preset', 'read-only']);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('printable');
    expect(out.stderr).not.toContain('\x1b');
    expect(s.tokens.list().length).toBe(before);
  });

  it('N5 `token list` and `token tree` escape a name stored before the rule, instead of printing it raw', async () => {
    const t = s.token({ name: 'legacy' });
    s.daemon.db.prepare('UPDATE tokens SET name = ? WHERE id = ?').run('legacy\x1b[2J\u202Eevil\r\nx', t.token.id);
    for (const cmd of [['token', 'list'], ['token', 'tree']]) {
      const out = await runCli(['--data-dir', s.dataDir, ...cmd]);
      expect(out.code, out.stderr).toBe(0);
      const line = out.stdout.split('\n').find((l) => l.includes(t.token.id))!;
      expect(line).toContain('legacy\\u{1b}[2J\\u{202e}evil\\u{d}\\u{a}x');
      expect(out.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f\u202e]/);
    }
  });
});

// Issue 25 item 11: names that render blank, or as a letter buried under overlays.
const INVISIBLE: Array<[string, string]> = [
  ['Hangul filler U+3164', '\u3164'],
  ['halfwidth Hangul filler U+FFA0', '\uFFA0\uFFA0'],
  ['Braille blank U+2800', '\u2800\u2800\u2800'],
  ['blanks around a filler', '\u2003\u3164\u2800\u00a0'],
  ['combining marks only', '\u0336\u0336\u0336'],
  ['20 combining overlays on a letter', `a${'\u0336'.repeat(20)}`],
];

describe('N. names with nothing visible (issue 25 item 11)', () => {
  it.each(INVISIBLE)('N6 agent API: a child named with %s is refused with the printable-text message', async (_what, name) => {
    const before = s.tokens.list().length;
    const key = await call(s, parent, 'POST', '/v1/api-keys', { name, scopes: ['models:read'] });
    expect(key.status).toBe(400);
    const child = await call(s, parent, 'POST', '/v1/agents/create-child', { child_name: name, scopes: ['models:read'] });
    expect(child.status).toBe(400);
    expect(((await child.json()) as { error: { message: string } }).error.message).toContain('printable');
    expect(s.tokens.list().length).toBe(before);
  });

  it.each(INVISIBLE)('N7 admin API, access requests and CLI refuse %s too', async (_what, name) => {
    const created = await admin('POST', '/tokens', { name, preset: 'read-only' });
    expect(created.status).toBe(400);
    const t = s.token({ name: 'plain' });
    expect((await admin('PATCH', `/tokens/${t.token.id}`, { name })).status).toBe(400);
    expect(s.tokens.get(t.token.id)!.name).toBe('plain');
    expect((await call(s, null, 'POST', '/v1/agents/request-access', { name, scopes: ['models:read'], monthly_budget: 1 })).status).toBe(400);
    const before = s.tokens.list().length;
    const out = await runCli(['--data-dir', s.dataDir, 'token', 'create', '--name', name, '--preset', 'read-only']);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('printable');
    expect(s.tokens.list().length).toBe(before);
  });

  it('N8 names in other scripts, with their own marks, are still accepted', async () => {
    for (const name of ['Tiếng Việt agent', 'नमस्ते', '日本語のエージェント', 'x\u20dd']) {
      const created = await admin('POST', '/tokens', { name, preset: 'read-only' });
      expect(created.status, name).toBe(201);
    }
  });
});
