/**
 * `skillboss-sidecar mcp`: a Model Context Protocol server (official SDK,
 * stdio) that gives an agent its sidecar as tools. It talks to the running
 * daemon over the same agent API any agent uses, with the agent's own local
 * token, so it can do nothing an agent could not do with curl.
 *
 *   request_access      ask the human for a key and wait for the answer (the key is then used by the other tools)
 *   check_balance       GET /v1/balance
 *   list_models         GET /v1/models: chat models with prices, and SkillBoss's services models with their type
 *   run_service         POST /v1/run (a SkillBoss service: images, video, audio, search, …) or poll its job, GET /v1/job/{id}
 *   rotate_key          POST /v1/api-keys/rotate (the new key is then used)
 *   create_child_agent  POST /v1/agents/create-child
 *   revoke_child_agent  DELETE /v1/agents/{id}/revoke
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { setTimeout as sleep } from 'node:timers/promises';
import * as z from 'zod';
import { VERSION } from '../core/version.js';
import { BUDGET_PERIODS } from '../core/period.js';
import { parseUpstreamPrice } from '../pricing/prices.js';
import { SCOPES } from '../tokens/scopes.js';
import { SidecarApiError, type RawAnswer, type SidecarClient } from './client.js';

type Json = Record<string, unknown>;

interface Pending {
  pollUrl: string;
  userCode: string;
  name: string;
  interval: number;
  expiresAt: number;
}

const scopeList = z.array(z.enum(SCOPES)).min(1).describe(`Scopes, from: ${SCOPES.join(', ')}. Ask for no more than the task needs.`);

const INSTRUCTIONS = `Tools for using the SkillBoss API through the SkillBoss Sidecar on this machine.
Without a key, call request_access first: the human approves it (comparing the user_code), and the key is then used by the other tools.
Use the key with any OpenAI SDK: base URL and key are in request_access's answer.`;

const ADVICE: Record<number, string> = {
  401: ' The key is not valid (revoked, expired or rotated): call request_access for a new one.',
  402: ' A budget is used up, the key is on hold waiting for the human\'s approval (spend_approval_required), or the account is out of credits: check_balance shows what is left, when it resets and whether the key is held; tell the human.',
  403: ' The key lacks a scope this needs: do without, or ask the human (request_access with that scope).',
  429: ' Too many requests: wait and retry.',
};

function text(value: unknown): CallToolResult {
  return { content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value, null, 2) }] };
}

function failure(err: unknown): CallToolResult {
  const message =
    err instanceof SidecarApiError
      ? `${err.status ? `HTTP ${err.status} ` : ''}${err.code}: ${err.message}${ADVICE[err.status] ?? ''}${err.retryAfter ? ` (Retry-After: ${err.retryAfter}s)` : ''}`
      : `${(err as Error)?.message ?? String(err)}`;
  return { isError: true, content: [{ type: 'text', text: message }] };
}

/** Runs a tool body, turning every failure into an MCP tool error the model can read. */
async function tool(fn: () => Promise<unknown>): Promise<CallToolResult> {
  try {
    return text(await fn());
  } catch (err) {
    return failure(err);
  }
}

/**
 * An amount as the agent gives it: the field rules (core/fields.ts) are applied by the agent route this tool calls, so an
 * amount refused there is refused here in the same words (issue 22); only the type is checked on this side.
 */
const amountInput = z.union([z.number(), z.string().max(40)]);
const countInput = amountInput;

/** The types SkillBoss lists for models called as chat (the rest are runs). */
const CHAT_TYPES = new Set(['chat', 'llm', 'text', 'embedding']);
/** Binary answers up to this size come back as base64 too; larger ones as their size, type and hash only. */
const BINARY_INLINE = 48 * 1024;
/** JSON and text answers are returned whole up to this size (a tool answer is read by a model). */
const ANSWER_KEEP = 1024 * 1024;

/** A run's answer as the tool returns it: JSON as it is, text as text, binary summarised (base64 under the cap). */
function describeAnswer(a: RawAnswer): unknown {
  const type = a.contentType ?? 'application/octet-stream';
  const base = { http_status: a.status, content_type: type, size_bytes: a.size };
  if (/^application\/(?:[\w.+-]+\+)?json\b/i.test(type) && !a.truncated) {
    let json: unknown;
    try {
      json = JSON.parse(a.bytes.toString('utf8'));
    } catch {
      return { ...base, text: a.bytes.toString('utf8') };
    }
    const id = json && typeof json === 'object' ? (json as Json).job_id : undefined;
    if (a.status === 202 && typeof id === 'string') {
      return { ...base, answer: json, next: `The job runs at SkillBoss: call run_service with job_id "${id}" to poll it until its status is completed or failed (it is charged once, when it ends).` };
    }
    return { ...base, answer: json };
  }
  if (/^text\//i.test(type)) return { ...base, text: a.bytes.toString('utf8'), ...(a.truncated ? { truncated: true } : {}) };
  return {
    ...base,
    sha256: a.sha256,
    ...(a.size <= BINARY_INLINE ? { base64: a.bytes.toString('base64') } : { note: `A binary answer over ${BINARY_INLINE / 1024} KiB is not inlined; call /v1/run directly (curl or the openai SDK) to save it.` }),
  };
}

export function createMcpServer(client: SidecarClient): McpServer {
  const server = new McpServer({ name: 'skillboss-sidecar', version: VERSION }, { capabilities: { logging: {} }, instructions: INSTRUCTIONS });
  /** Requests this process created, by id: their poll URLs (with the poll secret) never leave this process. */
  const pending = new Map<string, Pending>();

  server.registerTool(
    'request_access',
    {
      title: 'Request a SkillBoss key from the human',
      description:
        'Asks the human who runs the sidecar for a key with these scopes and monthly budget, then waits (up to wait_seconds) for the answer. ' +
        'The human compares the user_code; tell them it if the call returns still pending, then call again with request_id to keep waiting. ' +
        'On approval the key (shown once) is returned and used by the other tools from then on. The human may grant less than asked.',
      inputSchema: {
        name: z.string().min(1).max(64).optional().describe('A short name for this agent (shown to the human). Required unless request_id is given.'),
        scopes: scopeList.optional().describe('Scopes to ask for. Required unless request_id is given.'),
        monthly_budget: amountInput.optional().describe('Most this agent may spend per calendar month, in USD (more than 0, at most 6 decimals). Required unless request_id is given.'),
        expiration_days: countInput.optional().describe('How long the key should live (default 90 days).'),
        reason: z.string().max(500).optional().describe('Why this agent needs it (shown to the human).'),
        request_id: z.string().optional().describe('Keep waiting on a request made earlier by this tool, instead of asking again.'),
        wait_seconds: z.number().int().min(0).max(600).optional().describe('How long to wait for the human (default 50).'),
      },
    },
    (args, extra) =>
      tool(async () => {
        let id = args.request_id;
        let req = id ? pending.get(id) : undefined;
        if (id && !req) throw new Error(`No request ${id} was made by this MCP server (or it was already answered); call request_access without request_id.`);
        if (!req) {
          if (!args.name || !args.scopes || args.monthly_budget === undefined) throw new Error('Give name, scopes and monthly_budget (or request_id to keep waiting on an earlier request).');
          const created = await client.call('POST', '/agents/request-access', {
            auth: false,
            body: { name: args.name, scopes: args.scopes, monthly_budget: args.monthly_budget, expiration_days: args.expiration_days, reason: args.reason },
          });
          id = String(created.request_id);
          req = { pollUrl: String(created.poll_url), userCode: String(created.user_code), name: args.name, interval: Number(created.interval) || 5, expiresAt: Date.parse(String(created.expires_at)) };
          pending.set(id, req);
        }
        const say = `Ask the human to approve SkillBoss access request ${req.userCode} for ${req.name} (sidecar dashboard or tray, or: skillboss-sidecar requests approve ${req.userCode}).`;
        await notify(server, extra, say, 0);
        let answer: Json | 'pending';
        try {
          answer = await waitForAnswer(client, req, (args.wait_seconds ?? 50) * 1000, extra.signal, (n) => notify(server, extra, `Still waiting for the human to approve ${req.userCode}…`, n));
        } catch (err) {
          // Expired, or already answered: nothing left to wait for.
          if (err instanceof SidecarApiError && (err.status === 410 || err.status === 404)) pending.delete(id!);
          throw err;
        }
        if (answer === 'pending') {
          return { status: 'pending', request_id: id, user_code: req.userCode, expires_at: new Date(req.expiresAt).toISOString(), next: `${say} Then call request_access with request_id "${id}" to keep waiting.` };
        }
        pending.delete(id!);
        if (answer.status === 'approved') {
          client.useToken(String(answer.api_key));
          const { object: _o, message: _m, ...rest } = answer;
          return { ...rest, note: 'This key is shown once and is now used by this MCP server\'s other tools. To use it in code: OPENAI_BASE_URL=base_url, OPENAI_API_KEY=api_key.' };
        }
        return { status: answer.status, request_id: id, reason: answer.reason ?? null, note: 'The human denied this request. Ask them before asking again.' };
      }),
  );

  server.registerTool(
    'check_balance',
    {
      title: 'Check balance and budget',
      description:
        'This key\'s budget and its period (day, week, month, or total = prepaid), spend this period, what remains (the tightest of its own and its parents\' budgets), when it resets (null: never), and whether it is held waiting for the human\'s approval. Needs billing:read.',
      annotations: { readOnlyHint: true },
    },
    () => tool(() => client.call('GET', '/balance')),
  );

  server.registerTool(
    'list_models',
    {
      title: 'List models with prices',
      description:
        'The models this key may use: chat models with prices in USD per million tokens (prompt and completion), and SkillBoss\'s services models ' +
        '(images, video, speech, music, search, scraping, e-mail, documents…) with their type and, where the list carries one, their per-request price; ' +
        'call those with run_service. Needs models:read.',
      annotations: { readOnlyHint: true },
    },
    () =>
      tool(async () => {
        const r = await client.call('GET', '/models');
        const data = Array.isArray(r.data) ? (r.data as Json[]) : Array.isArray(r.models) ? (r.models as Json[]) : [];
        return {
          models: data.map((m) => {
            const p = parseUpstreamPrice(m);
            const type = typeof m.type === 'string' ? m.type : typeof m.category === 'string' ? m.category : null;
            const tokens = p !== null && Number.isFinite(p.prompt);
            return {
              id: m.id ?? m.model_id,
              owned_by: m.owned_by ?? m.vendor ?? null,
              ...(type !== null ? { type } : {}),
              prompt_usd_per_million_tokens: tokens ? p.prompt : null,
              completion_usd_per_million_tokens: tokens ? p.completion : null,
              ...(p?.perRequest != null ? { usd_per_request: p.perRequest } : {}),
              // Chat-like models take POST /v1/chat/completions; every other SkillBoss model is a run.
              ...(type !== null && !CHAT_TYPES.has(type) ? { call_with: 'run_service' } : {}),
            };
          }),
        };
      }),
  );

  server.registerTool(
    'run_service',
    {
      title: 'Run a SkillBoss service',
      description:
        'POST /v1/run {model, inputs} through the sidecar with this key (needs services:use): any of SkillBoss\'s services models (list_models, e.g. ' +
        '"replicate/black-forest-labs/flux-schnell" with inputs {prompt}). Metered like any call: reserved at the model\'s price, charged what SkillBoss reports. ' +
        'Returns the vendor\'s JSON answer as it is; a binary answer (audio…) as its content_type, size_bytes and sha256, with base64 only when it is at most ' +
        `${BINARY_INLINE / 1024} KiB; a long job as its job_id: call again with job_id to poll it (it is charged once, by the poll that sees it end). ` +
        'Give idempotency_key to make a retry safe: the same key again is answered without a second charge.',
      inputSchema: {
        model: z.string().min(1).max(256).optional().describe('The model, "<vendor>/<name>". Required unless job_id is given.'),
        inputs: z.record(z.string(), z.unknown()).optional().describe('The model\'s inputs, e.g. {"prompt": "a lighthouse at dusk"} or {"text": "Hello"}.'),
        job_id: z.string().min(1).max(200).optional().describe('Poll a job an earlier run_service call started, instead of starting a run.'),
        idempotency_key: z.string().min(1).max(255).optional().describe('Sent as Idempotency-Key: a retry with the same key is not charged again.'),
      },
    },
    (args, extra) =>
      tool(async () => {
        if (args.job_id === undefined && args.model === undefined) throw new Error('Give model (and inputs) to run a service, or job_id to poll a job.');
        const answer =
          args.job_id !== undefined
            ? await client.raw('GET', `/job/${encodeURIComponent(args.job_id)}`, { keep: ANSWER_KEEP, signal: extra.signal })
            : await client.raw('POST', '/run', {
                body: { model: args.model, inputs: args.inputs ?? {} },
                headers: args.idempotency_key ? { 'idempotency-key': args.idempotency_key } : {},
                keep: ANSWER_KEEP,
                signal: extra.signal,
              });
        return describeAnswer(answer);
      }),
  );

  server.registerTool(
    'rotate_key',
    {
      title: 'Rotate this key',
      description: 'Issues a new secret for this key (same budget, scopes and children) and uses it from now on. The old one keeps working for grace_days (default 7) for ordinary calls; update your configuration with new_api_key.',
      inputSchema: { grace_days: countInput.optional().describe('How long the old key keeps working (default 7 days).') },
    },
    (args) =>
      tool(async () => {
        const r = await client.call('POST', '/api-keys/rotate', { body: args.grace_days === undefined ? {} : { grace_days: args.grace_days } });
        client.useToken(String(r.new_api_key));
        return { ...r, note: 'The new key is shown once and is now used by this MCP server.' };
      }),
  );

  server.registerTool(
    'create_child_agent',
    {
      title: 'Create a key for a child agent',
      description: 'Mints a key for a sub-agent, within this key\'s own scopes, budget and expiry; its spend also counts against this key. Returns the child\'s api_key (shown once) and id. Needs agents:create.',
      inputSchema: {
        name: z.string().min(1).max(100).describe('The child agent\'s name.'),
        scopes: scopeList,
        monthly_budget: amountInput.optional().describe('The child\'s budget in USD per budget_period (more than 0, at most 6 decimals, at most this key\'s).'),
        budget_period: z.enum(BUDGET_PERIODS).optional().describe('What the budget is per: day, week, month (default) or total (prepaid, never resets).'),
        expiration_days: countInput.optional().describe('Days until the child key expires (default: when this key does).'),
        models: z.array(z.string()).optional().describe('The only models the child may use, as patterns (gemini/*, bedrock/claude-*, openai/gpt-5), within this key\'s own list (default: this key\'s list, or every model).'),
      },
    },
    (args) =>
      tool(() =>
        client.call('POST', '/agents/create-child', {
          body: { child_name: args.name, scopes: args.scopes, child_budget: args.monthly_budget ?? null, budget_period: args.budget_period ?? null, expiration_days: args.expiration_days ?? null, models: args.models ?? null },
        }),
      ),
  );

  server.registerTool(
    'revoke_child_agent',
    {
      title: 'Revoke a child agent\'s key',
      description: 'Revokes a key this key created (directly or further down), and every key below it. Give its id (tok_…). Needs agents:create.',
      inputSchema: { id: z.string().min(1).max(200).describe('The child\'s id (tok_…) or its key.') },
      annotations: { destructiveHint: true },
    },
    (args) => tool(() => client.call('DELETE', `/agents/${encodeURIComponent(args.id)}/revoke`)),
  );

  return server;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Tells the client what is going on: a progress notification when it asked for them, and a log message. */
async function notify(server: McpServer, extra: Extra, message: string, progress: number): Promise<void> {
  const token = extra._meta?.progressToken;
  try {
    if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, message } });
    await server.sendLoggingMessage({ level: 'info', logger: 'skillboss-sidecar', data: message });
  } catch {
    /* a client that cannot take notifications still gets the tool's answer */
  }
}

/** Polls at the sidecar's interval until approved or denied, or until `waitMs` passes ('pending'). */
async function waitForAnswer(client: SidecarClient, req: Pending, waitMs: number, signal: AbortSignal, onWait: (n: number) => Promise<void>): Promise<Json | 'pending'> {
  const deadline = Date.now() + waitMs;
  let delay = req.interval * 1000;
  for (let n = 1; ; n++) {
    const left = deadline - Date.now();
    if (left <= 0) return 'pending';
    await sleep(Math.min(delay, left), undefined, { signal });
    try {
      const r = await client.poll(req.pollUrl, signal);
      if (r.status !== 'pending') return r;
      delay = req.interval * 1000;
      await onWait(n);
    } catch (err) {
      if (err instanceof SidecarApiError && err.status === 429) {
        delay = Math.max(1, err.retryAfter ?? req.interval) * 1000;
        continue;
      }
      throw err;
    }
  }
}
