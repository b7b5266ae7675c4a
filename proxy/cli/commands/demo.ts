/**
 * `demo`: the whole thing with no SkillBoss account. The simulator and the
 * daemon on loopback, their own throwaway data dir, an in-memory key (the
 * simulator's key is no secret), a demo token, one real call through the
 * proxy, and copy-paste instructions: the signed-in dashboard link, the
 * `export SKILLBOSS_SIDECAR_DATA_DIR=…` line for other shells, and a line on
 * the console for every request agents make. Other CLI commands find the demo
 * without that line too (cli/running.ts).
 */
import type { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLoginNonce, LOGIN_NONCE_TTL_MS } from '../../admin/sessions.js';
import type { RefusedEvent, RequestEvent } from '../../core/events.js';
import { createLogger } from '../../core/log.js';
import { formatUsd, microsToUsd, usdToMicros } from '../../core/money.js';
import { systemClock } from '../../core/time.js';
import { memoryKeyStore } from '../../keychain/store.js';
import { startDaemon } from '../../server/daemon.js';
import { startSimulator } from '../../simulator/index.js';
import { randomBase62 } from '../../tokens/format.js';
import { scopesFromPreset } from '../../tokens/scopes.js';
import { TokenStore } from '../../tokens/store.js';
import { CliError } from '../context.js';
import { registerRunning } from '../running.js';
import { readConnected, type Connected } from '../connect/undo.js';
import { runUntilSignal } from './serve.js';
import { envSetting } from '../../core/env.js';
import { parsePortFlag } from '../parse.js';

/** How the human ran us: `npx skillboss-sidecar` (inside the clone) or the linked command. */
export function cliName(env: NodeJS.ProcessEnv = process.env): string {
  return envSetting('npm_command', env) === 'exec' ? 'npx skillboss-sidecar' : 'skillboss-sidecar';
}

/** One console line per request refused before a token was known (a wrong token, an unknown route). */
export function refusedLine(ev: RefusedEvent): string {
  return `${new Date(ev.ts).toISOString().slice(11, 19)}  ${ev.method} ${ev.route ?? '(unknown route)'}  ${ev.status} ${ev.error_code}  no valid token\n`;
}

/** One console line per request an agent made (metered or refused after authentication). */
export function requestLine(ev: RequestEvent): string {
  const time = new Date(ev.ts).toISOString().slice(11, 19);
  const tokens = ev.prompt_tokens + ev.completion_tokens > 0 ? `  ${ev.prompt_tokens}+${ev.completion_tokens} tokens` : '';
  const cost = ev.cost_micros > 0 ? `  $${microsToUsd(ev.cost_micros).toFixed(6)}` : '';
  const err = ev.error_code ? `  ${ev.error_code}` : '';
  return `${time}  ${ev.route}  ${ev.status}${err}  ${ev.model ?? '-'}${tokens}${cost}  ${Math.round(ev.latency_ms)} ms${ev.streamed ? ' (stream)' : ''}  ${ev.token_id}\n`;
}

/** Said when the demo stops: the agent configurations `connect` pointed at it, which now point nowhere. */
export function stoppedNote(written: Connected[], cli: string): string {
  if (written.length === 0) return '';
  const lines = written.map((c) =>
    c.backup
      ? `  ${c.agent}: ${c.path}; put the previous one back with \`${cli} connect --undo ${c.agent}\``
      : `  ${c.agent}: ${c.path} (connect created it; delete it, or run \`${cli} connect ${c.agent}\` against a real sidecar)`,
  );
  return `\nThe demo has stopped. These agent configurations pointed at it and no longer work:\n${lines.join('\n')}\nOr point them at a real sidecar: \`${cli} connect AGENT\` while it runs.\n`;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the sidecar against the built-in SkillBoss simulator, with a demo token (no account needed)')
    .option('--port <port>', 'port for the sidecar (0 picks a free one)', '7373')
    .option('--exit', 'exit after the self-test instead of serving until Ctrl-C')
    .action(async (o: { port: string; exit?: boolean }) => {
      const port = parsePortFlag(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError('--port takes a number from 0 to 65535');
      const dataDir = mkdtempSync(join(tmpdir(), 'skillboss-sidecar-demo-'));
      const simKey = `sk-demo-${randomBase62(24)}`;
      const sim = await startSimulator({ apiKey: simKey, balanceUsd: 25 });
      const log = createLogger({ pretty: process.stderr.isTTY, level: 'warn' });
      const cleanup = async () => {
        await sim.close();
        rmSync(dataDir, { recursive: true, force: true });
      };
      let daemon;
      try {
        daemon = await startDaemon({ dataDir, port, upstreamUrl: sim.url, keyStore: memoryKeyStore(simKey), log, demo: true });
      } catch (err) {
        await cleanup();
        throw new CliError(`${(err as Error).message}${port !== 0 ? ' (try `skillboss-sidecar demo --port 0`)' : ''}`);
      }
      await daemon.sync();
      const created = new TokenStore(daemon.db, systemClock).create(
        { name: 'demo-agent', scopes: scopesFromPreset('write'), budget: usdToMicros(5) },
        'demo',
      );
      daemon.deps.principals.clear();
      const base = `${daemon.url}/v1`;
      const token = created.secret;

      // One real call through the proxy, so the newcomer sees it work.
      const res = await fetch(`${base}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello from the SkillBoss sidecar demo' }] }),
      });
      const body = (await res.json()) as { choices?: Array<{ message?: { content?: string } }>; usage?: { prompt_tokens: number; completion_tokens: number }; error?: { message: string } };
      const spent = daemon.deps.budgets.spent(created.token.id, Date.now());
      const out = process.stdout;
      const cli = cliName();
      const dashboard = `${daemon.url}/admin/login?nonce=${createLoginNonce(daemon.db, Date.now()).nonce}`;
      out.write(`SkillBoss sidecar demo (simulated upstream; nothing here costs money)\n\n`);
      out.write(`  sidecar    ${base}\n  simulator  ${sim.url}\n  data dir   ${dataDir} (deleted on exit)\n\n`);
      out.write(`Dashboard (this link signs you in once, within ${LOGIN_NONCE_TTL_MS / 60_000} minutes; later: ${cli} open):\n\n  ${dashboard}\n\n`);
      out.write(`Demo token (scopes: ${created.token.scopes.join(' ')}, budget ${formatUsd(created.token.budget)}/month):\n\n  ${token}\n\n`);
      if (res.ok) {
        out.write(`Self-test: POST /v1/chat/completions -> ${res.status}, reply ${JSON.stringify(body.choices?.[0]?.message?.content)}\n`);
        out.write(`           ${body.usage?.prompt_tokens} prompt + ${body.usage?.completion_tokens} completion tokens, charged $${microsToUsd(spent).toFixed(6)} to demo-agent\n\n`);
      } else {
        out.write(`Self-test failed: ${res.status} ${body.error?.message ?? ''}\n\n`);
        process.exitCode = 1;
      }
      out.write(`In another shell, other commands find this demo by themselves; to be explicit, first run:\n\n`);
      out.write(`  export SKILLBOSS_SIDECAR_DATA_DIR=${dataDir}\n\n`);
      out.write(`Connect a coding agent (a token of its own, and its config file, backed up first):\n\n`);
      out.write(`  ${cli} connect codex        # or opencode, continue, qwen, claude, cursor, openai\n\n`);
      out.write(`Try it:\n\n`);
      out.write(`  curl ${base}/chat/completions \\\n    -H "Authorization: Bearer ${token}" -H "Content-Type: application/json" \\\n    -d '{"model":"gemini/gemini-2.5-flash","messages":[{"role":"user","content":"Hello"}]}'\n\n`);
      out.write(`  # Python (requests)\n  import requests\n  r = requests.post("${base}/chat/completions",\n      headers={"Authorization": "Bearer ${token}"},\n      json={"model": "gemini/gemini-2.5-flash", "messages": [{"role": "user", "content": "Hello"}]})\n  print(r.json())\n\n`);
      out.write(`  # Python or TypeScript, any OpenAI SDK\n  export OPENAI_BASE_URL=${base}\n  export OPENAI_API_KEY=${token}\n\n`);
      out.write(`  curl ${base}/balance -H "Authorization: Bearer ${token}"\n\n`);
      if (o.exit) {
        await daemon.close();
        await cleanup();
        return;
      }
      out.write('Serving until Ctrl-C. Requests:\n');
      daemon.events.on('request', (ev) => out.write(requestLine(ev)));
      daemon.events.on('refused', (ev) => out.write(refusedLine(ev)));
      const unregister = registerRunning({ pid: process.pid, kind: 'demo', dataDir, url: daemon.url });
      await runUntilSignal(daemon, async () => {
        unregister();
        out.write(stoppedNote(readConnected(dataDir), cli));
        await cleanup();
      });
    });
}
