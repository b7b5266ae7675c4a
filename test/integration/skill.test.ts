/**
 * GET /skill.md, followed literally (issue 9): fetch it, take its numbered
 * steps, run each step's shell block as written (curl, through sh) with the
 * `<field>` placeholders filled from the sidecar's previous answers, play the
 * human when it says the human approves (with the very command it names),
 * and end with a working token.
 */
import { execFile } from 'node:child_process';
import { get } from 'node:http';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startStack, type Stack } from '../helpers/stack.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let s: Stack;
beforeAll(async () => {
  s = await startStack({ daemon: { access: { pollIntervalS: 1 } } });
});
afterAll(async () => {
  await s?.close();
});

interface Step {
  n: number;
  title: string;
  text: string;
  /** The step's shell block, if it has one. */
  sh: string | null;
}

function parseSteps(md: string): Step[] {
  return md.split(/^## /m).flatMap((section) => {
    const head = /^Step (\d+): (.+)\n/.exec(section);
    if (!head) return [];
    return [{ n: Number(head[1]), title: head[2]!, text: section, sh: /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? null }];
  });
}

/** `<field>` → the field of that name from the sidecar's answers so far; every placeholder must be known. */
function fill(command: string, vars: Record<string, unknown>): string {
  const out = command.replace(/<([a-z_]+)>/g, (m, key: string) => (key in vars ? String(vars[key]) : m));
  expect(out, `unfilled placeholder in: ${out}`).not.toMatch(/<[a-z_]+>/);
  return out;
}

async function sh(command: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await exec('sh', ['-c', command], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, timeout: 20_000 });
  return stdout;
}

async function shJson(command: string): Promise<Record<string, unknown>> {
  const out = await sh(command);
  try {
    return JSON.parse(out) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON from ${command}:\n${out}`);
  }
}

describe('skill.md', () => {
  it('is served as markdown with this daemon\'s own URLs', async () => {
    const res = await fetch(`${s.daemon.url}/skill.md`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/markdown; charset=utf-8');
    const md = await res.text();
    expect(md).toContain(`Base URL for OpenAI-compatible clients: \`${s.baseURL}\``);
    expect(md).not.toContain('{{ORIGIN}}');
    expect(parseSteps(md).map((st) => st.n)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const code of ['401', '402', '403', '429']) expect(md).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
    // Reached as localhost, it speaks of localhost (what that agent can reach).
    // (node:http, because fetch does not let a caller set Host.)
    const viaLocalhost = await new Promise<string>((resolve, reject) => {
      get({ host: '127.0.0.1', port: s.daemon.port, path: '/skill.md', headers: { host: `localhost:${s.daemon.port}` } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    expect(viaLocalhost).toContain(`http://localhost:${s.daemon.port}/v1/agents/request-access`);
  });

  it('followed step by step with curl, ends with a working token', async () => {
    const md = await (await fetch(`${s.daemon.url}/skill.md`)).text();
    const steps = parseSteps(md);
    const step = (n: number) => steps.find((st) => st.n === n)!;
    const vars: Record<string, unknown> = {};

    // Step 1: ask for access, exactly as written.
    expect(step(1).title).toMatch(/ask for access/i);
    Object.assign(vars, await shJson(fill(step(1).sh!, vars)));
    expect(vars).toMatchObject({ status: 'pending', request_id: expect.stringMatching(/^areq_/), user_code: expect.any(String), poll_url: expect.any(String) });
    const asked = { ...vars };

    // Step 2: the human approves, with the command the step names.
    expect(step(2).title).toMatch(/human/i);
    expect(step(2).sh).toBeNull();
    const humanCommand = /`(skillboss-sidecar requests approve <user_code>)`/.exec(step(2).text)?.[1];
    expect(humanCommand).toBeDefined();
    const [, ...humanArgs] = fill(humanCommand!, vars).split(' ');
    const human = await runCli(['--data-dir', s.dataDir, ...humanArgs]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`Approved ${String(asked.request_id)} (${String(asked.user_code)}) for my-agent`);

    // Step 3: poll while pending.
    let answer: Record<string, unknown> = {};
    for (let i = 0; i < 5; i++) {
      answer = await shJson(fill(step(3).sh!, vars));
      if (answer.status !== 'pending') break;
    }
    expect(answer).toMatchObject({ status: 'approved', request_id: asked.request_id, scopes: ['models:read', 'models:use', 'billing:read'], monthly_budget: 5 });
    Object.assign(vars, answer);

    // Step 4: use the key; its JavaScript example runs unchanged after its exports.
    const js = /```js\n([\s\S]*?)```/.exec(step(4).text)?.[1];
    expect(js).toBeDefined();
    await sh(`${fill(step(4).sh!, vars)}\nexec node --input-type=module -e "$EXAMPLE"`, { EXAMPLE: js! });
    const used = s.daemon.db.prepare("SELECT status, model FROM usage WHERE token_id = ? AND route = '/v1/chat/completions'").all(String(vars.token_id));
    expect(used).toEqual([{ status: 200, model: 'gpt-4o-mini' }]);

    // Step 5: balance.
    const balance = await shJson(fill(step(5).sh!, vars));
    expect(balance).toMatchObject({ token_id: vars.token_id, monthly_budget: 5, currency: 'USD' });

    // Step 6: rotate, and store the new key in place of the old one.
    const rotated = await shJson(fill(step(6).sh!, vars));
    expect(rotated.new_api_key).toMatch(/^sk-sbl-/);
    vars.api_key = rotated.new_api_key;
    expect(await shJson(fill(step(5).sh!, vars))).toMatchObject({ token_id: vars.token_id });

    // The end: a working token.
    const client = new OpenAI({ apiKey: String(vars.api_key), baseURL: String(vars.base_url), maxRetries: 0 });
    const reply = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'set up' }] });
    expect(reply.choices[0]!.message.content).toBe('Echo: set up');
  });
});
