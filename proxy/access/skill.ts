/**
 * GET /skill.md: short, exact instructions for an AI agent told "set up
 * http://127.0.0.1:7373/skill.md". Structured so it can be followed literally
 * (test/integration/skill.test.ts does exactly that): numbered `## Step N`
 * sections, each with at most one `sh` block to run as written (other blocks are examples), and
 * `<field>` placeholders that name a field of the sidecar's latest JSON answer.
 * Kept as a TS template (not a .md beside the code) so it ships inside dist.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The instructions with this daemon's own origin (`http://127.0.0.1:7373`) filled in. */
export function renderSkill(origin: string): string {
  return TEMPLATE.replaceAll('{{ORIGIN}}', origin.replace(/\/+$/, ''));
}

const TEMPLATE = `# SkillBoss Sidecar: setup for AI agents

This machine runs a SkillBoss sidecar at {{ORIGIN}}. It speaks the OpenAI API and gives each agent its own key (\`sk-sbl-…\`) with scopes and a monthly budget that the human approves. You never see the real SkillBoss key, and you need no key to start.

- Base URL for OpenAI-compatible clients: \`{{ORIGIN}}/v1\`
- In the commands below, \`<field>\` stands for the field of that name in the sidecar's latest JSON answer (\`<poll_url>\` is \`poll_url\` from step 1, \`<api_key>\` is \`api_key\` from step 3). Run each command as written, with those filled in.
- Already have a key (\`SKILLBOSS_API_KEY\` or \`OPENAI_API_KEY\` starting with \`sk-sbl-\`)? Skip to step 4.
- With an MCP client, \`skillboss-sidecar mcp\` offers the same as tools: request_access, check_balance, list_models, run_service, rotate_key, create_child_agent, revoke_child_agent.

## Step 1: Ask for access

Change \`name\`, \`scopes\`, \`monthly_budget\` (USD per calendar month), \`expiration_days\` (1 to 365, default 90) and \`reason\` to what you need, and ask for no more. Scopes: \`models:read\` (list models), \`models:use\` (LLM calls), \`services:read\`, \`services:use\`, \`billing:read\` (your balance), \`billing:write\`, \`agents:create\` (keys for child agents). You may add \`models\`, patterns such as \`["gemini/*", "replicate/*"]\`, to ask only for the models you need (the human may narrow them): a model outside your list then gets HTTP 403 \`model_not_allowed\`, and \`GET /v1/models\` lists only yours.

\`\`\`sh
curl -sS -X POST {{ORIGIN}}/v1/agents/request-access \\
  -H 'Content-Type: application/json' \\
  -d '{"name": "my-agent", "scopes": ["models:read", "models:use", "billing:read"], "monthly_budget": 5, "expiration_days": 30, "reason": "LLM calls for my task"}'
\`\`\`

The answer (HTTP 201) has \`request_id\`, \`user_code\` (like \`WDJB-MJHT\`), \`poll_url\`, \`expires_at\` (about 10 minutes away) and \`interval\` (seconds between polls). Keep \`poll_url\` to yourself: it collects your key.

## Step 2: Ask the human to approve

Tell your human, with the code and name filled in: "Please approve SkillBoss access request <user_code> for <name>, in the SkillBoss Sidecar dashboard or tray, or with \`skillboss-sidecar requests approve <user_code>\`." They should check that the code they see there is the same. They may grant less than you asked for, or deny.

## Step 3: Poll for the answer

Wait \`interval\` seconds, then ask; repeat while \`status\` is \`pending\`. Polling faster gets HTTP 429 with code \`slow_down\`.

\`\`\`sh
sleep <interval>; curl -sS '<poll_url>'
\`\`\`

- \`"status": "pending"\`: run it again.
- \`"status": "approved"\`: your key is \`api_key\`, with \`scopes\`, \`monthly_budget\`, \`expires_at\` and \`base_url\`. It is shown once: store it now. Later polls get HTTP 410.
- \`"status": "denied"\`: stop, and ask the human.
- HTTP 410: the request expired (nobody answered in time) or was already answered; start again at step 1.

## Step 4: Use your key

\`\`\`sh
export OPENAI_BASE_URL={{ORIGIN}}/v1
export OPENAI_API_KEY=<api_key>
\`\`\`

Any OpenAI SDK then works unchanged; use a model id from \`GET {{ORIGIN}}/v1/models\` (needs \`models:read\`; prices are in each entry's \`cost\` or \`pricing\`, USD per million tokens).

\`\`\`python
from openai import OpenAI
client = OpenAI()  # reads OPENAI_BASE_URL and OPENAI_API_KEY
reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}])
\`\`\`

\`\`\`js
import OpenAI from 'openai';
const client = new OpenAI(); // reads OPENAI_BASE_URL and OPENAI_API_KEY
const reply = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] });
\`\`\`

## Step 5: Check your balance

\`\`\`sh
curl -sS {{ORIGIN}}/v1/balance -H "Authorization: Bearer <api_key>"
\`\`\`

\`remaining\` is what you can still spend this month in USD (the tightest of your budget and any parent's), \`spent\` what you spent, \`resets_at\` when the month's budget starts again. Needs \`billing:read\`.

## Step 6: Rotate your key

\`\`\`sh
curl -sS -X POST {{ORIGIN}}/v1/api-keys/rotate -H "Authorization: Bearer <api_key>"
\`\`\`

Your new key is \`new_api_key\`: store it in place of the old one, which keeps working until \`old_key_expires_at\` (7 days) so nothing breaks meanwhile.

## Services: images, video, audio and more with \`/v1/run\`

Everything SkillBoss offers beyond chat (images, video, speech, music, search, scraping, e-mail, documents) is one call, \`POST {{ORIGIN}}/v1/run\` with \`{"model": "<vendor>/<name>", "inputs": {…}}\`; it needs the \`services:use\` scope. \`GET {{ORIGIN}}/v1/models\` lists the models with their \`type\`. The answer is the vendor's own: JSON (with \`cost_usd\`), binary audio, or SSE with \`"stream": true\`. It is charged what SkillBoss reports (reserved first at the model's price, so a budget is never overspent).

\`\`\`sh
curl -sS {{ORIGIN}}/v1/run -H "Authorization: Bearer <api_key>" -H 'Content-Type: application/json' \\
  -H 'Idempotency-Key: lighthouse-1' \\
  -d '{"model": "replicate/black-forest-labs/flux-schnell", "inputs": {"prompt": "a lighthouse at dusk"}}'
\`\`\`

\`\`\`js
const image = await client.post('/run', { body: { model: 'replicate/black-forest-labs/flux-schnell', inputs: { prompt: 'a lighthouse at dusk' } } });
\`\`\`

- A long job answers HTTP 202 \`{"status": "accepted", "job_id", "poll_url"}\`: \`GET {{ORIGIN}}<poll_url>\` (always \`/v1/job/<job_id>\` on this sidecar) with your key until \`status\` is \`completed\` or \`failed\`. It is charged once, when it ends, however often you poll; only your key can poll it.
- \`Idempotency-Key\`: a retry with the same key within 24 hours gets its answer without a second charge. A second request with a key whose first is still running gets HTTP 409 \`idempotency_key_in_use\`: wait for the first.
- \`POST {{ORIGIN}}/v1/pilot\` with \`{"type": "image", "inputs": {…}, "prefer": "price"}\` lets SkillBoss pick the model.

## Errors

Errors come as \`{"error": {"message": "…", "type": "…", "code": "…"}}\`; the message says what to do.

| HTTP | Means | Do |
|---|---|---|
| 401 | The key is missing, malformed, unknown, revoked, expired, or was rotated and its grace ended | Send \`Authorization: Bearer sk-sbl-…\` with your newest key; if it was revoked or expired, ask for access again (step 1) |
| 402 | Your monthly budget (or a parent's) is used up, or the SkillBoss account is out of credits | Stop spending; check step 5; ask the human for more budget; it resets on the 1st (UTC) |
| 403 | Your key lacks the scope this call needs (\`insufficient_scope\`; \`/v1/run\` needs \`services:use\`) | Do without it, or ask the human for access with that scope (step 1) |
| 404 | \`job_not_found\`: no job with this id was started with your key | Poll only the \`poll_url\` your own \`/v1/run\` answered |
| 409 | \`idempotency_key_in_use\`: a request with this Idempotency-Key is still running | Wait for it to answer, then retry: the retry is not charged again |
| 429 | Too many requests, polling too fast (\`slow_down\`), or too many access requests waiting | Wait the \`Retry-After\` seconds, then retry |
| 503 | The human paused all agents, or the sidecar has no SkillBoss key yet | Wait a minute and retry; tell the human if it lasts |
`;

/** Answers GET/HEAD /skill.md with the origin the agent reached us at (the guards have checked the Host header). */
export function sendSkill(req: IncomingMessage, res: ServerResponse): void {
  const text = renderSkill(`http://${req.headers.host ?? '127.0.0.1:7373'}`);
  res.writeHead(200, { 'content-type': 'text/markdown; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-cache' });
  res.end(text);
}
