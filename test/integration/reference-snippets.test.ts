/**
 * The reference document's Python snippets (reference/skillboss-agent-auth.txt,
 * "Key Rotation", "Automatic Rotation", "Parent-Child Agent Hierarchy",
 * "Creating scoped keys"), run unchanged with python3 + requests against the
 * sidecar. Each snippet is copied here verbatim (the document's own line
 * breaks); the only edit is the base URL (https://api.skillboss.co →
 * http://127.0.0.1:PORT). A preamble, not part of the snippet, fills the key
 * variables from the environment, defines the document's `update_config`
 * placeholder, and prints every HTTP answer so the test can read it.
 */
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../proxy/core/time.js';
import { verifySignature } from '../../proxy/lifecycle/webhook.js';
import { keychainVault, VAULT } from '../../proxy/keychain/vault.js';
import { startStack, tempDir, type Stack } from '../helpers/stack.js';
import { startReceiver, type Receiver } from './lifecycle-helpers.js';

const ROTATE = `# Agent requests new key (old key still valid for 7 days)
response = requests.post(
"https://api.skillboss.co/v1/api-keys/rotate",
headers={"Authorization": f"Bearer {OLD_KEY}"}
)
new_key = response.json()["new_api_key"]
grace_period = response.json()["old_key_expires_at"] # 7 days from now
# Agent updates config with new key
update_config(new_key)
# After grace period, old key stops working
`;

const AUTO_ROTATE = `# Agent schedules automatic rotation
requests.post(
"https://api.skillboss.co/v1/api-keys/auto-rotate",
headers={"Authorization": f"Bearer {CURRENT_KEY}"},
json={
"rotation_interval_days": 90,
"webhook_url": "https://your-agent.com/key-rotated" # Get notified
}
)
`;

const CREATE_CHILD_AND_REVOKE = `# Parent agent creates child agent with sub-budget
response = requests.post(
"https://api.skillboss.co/v1/agents/create-child",
headers={"Authorization": f"Bearer {PARENT_KEY}"},
json={
"child_name": "ResearchAgent-1",
"child_budget": 25.00, # $25/month from parent's budget
"scopes": ["models:read", "models:use"],
"expiration_days": 30 # Auto-revoke after 30 days
}
)
child_key = response.json()["api_key"]
# Parent can revoke child key anytime
requests.delete(
f"https://api.skillboss.co/v1/agents/{child_key}/revoke",
headers={"Authorization": f"Bearer {PARENT_KEY}"}
)
`;

const SCOPED_KEY = `# Human creates limited-scope key for agent
response = requests.post(
"https://api.skillboss.co/v1/api-keys",
headers={"Authorization": f"Bearer {ADMIN_KEY}"},
json={
"name": "ReadOnlyResearchAgent",
"scopes": ["models:read", "models:use"], # Can't use services or modify billing
"monthly_budget": 50.00
}
)
limited_key = response.json()["api_key"]
`;

const PREAMBLE = `import json, os, requests
OLD_KEY = CURRENT_KEY = PARENT_KEY = ADMIN_KEY = os.environ["SIDECAR_KEY"]
def update_config(key):
    print("CONFIG " + json.dumps(key))
_request = requests.Session.request
def _logged(self, method, url, **kwargs):
    r = _request(self, method, url, **kwargs)
    print("HTTP " + json.dumps({"method": method.upper(), "status": r.status_code, "body": r.json() if r.content else None}))
    return r
requests.Session.request = _logged
`;

const POSTAMBLE = `
for _name in ["new_key", "grace_period", "child_key", "limited_key"]:
    if _name in globals():
        print("VAR " + json.dumps({_name: globals()[_name]}))
`;

interface Run {
  http: Array<{ method: string; status: number; body: Record<string, unknown> | null }>;
  vars: Record<string, string>;
  config: string[];
}

let s: Stack;
let rx: Receiver;
let dir: string;

beforeAll(async () => {
  rx = await startReceiver();
  dir = tempDir('sbs-snippets-');
  s = await startStack({ daemon: { lifecycle: { intervalMs: 0, webhook: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50, timeoutMs: 2000 } } } });
});
afterAll(async () => {
  await s?.close();
  await rx?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The snippet with only the host changed, run by python3 with the key in the environment. */
function runSnippet(snippet: string, key: string, hosts: Record<string, string> = {}): Promise<Run> {
  let code = snippet.split('https://api.skillboss.co').join(new URL(s.daemon.url).origin);
  for (const [from, to] of Object.entries(hosts)) code = code.split(from).join(to);
  const file = join(dir, `snippet-${Math.random().toString(36).slice(2)}.py`);
  writeFileSync(file, PREAMBLE + code + POSTAMBLE);
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, SIDECAR_KEY: key, NO_PROXY: '*' };
  return new Promise((resolve, reject) => {
    execFile('python3', [file], { env, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`python3 failed: ${stderr || err.message}`));
      const lines = stdout.split('\n');
      const pick = (p: string) => lines.filter((l) => l.startsWith(p)).map((l) => JSON.parse(l.slice(p.length)) as unknown);
      resolve({
        http: pick('HTTP ') as Run['http'],
        vars: Object.assign({}, ...(pick('VAR ') as Array<Record<string, string>>)),
        config: pick('CONFIG ') as string[],
      });
    });
  });
}

const works = async (key: string) => (await fetch(`${s.baseURL}/models`, { headers: { authorization: `Bearer ${key}` } })).status;

describe("the reference document's snippets, against the sidecar", () => {
  it('Key Rotation: a new key, the old one valid for 7 days', async () => {
    const { token, secret } = s.token();
    const run = await runSnippet(ROTATE, secret);
    expect(run.http).toEqual([expect.objectContaining({ method: 'POST', status: 200 })]);
    const { new_key, grace_period } = run.vars as { new_key: string; grace_period: string };
    expect(new_key).toMatch(/^sk-sbl-\w{38}$/);
    expect(run.config).toEqual([new_key]);
    expect(Date.parse(grace_period!)).toBe(s.clock.now + 7 * DAY_MS);
    // Same token, new secret; the old one is in its grace period.
    const secrets = s.daemon.db.prepare('SELECT grace_until FROM token_secrets WHERE token_id = ? ORDER BY created_at').all(token.id) as Array<{ grace_until: number | null }>;
    expect(secrets.map((r) => r.grace_until)).toEqual([Date.parse(grace_period!), null]);
    expect(await works(new_key)).toBe(200);
    expect(await works(secret)).toBe(200);
  });

  it('Automatic Rotation: the unchanged webhook (a public host) is refused; pointed at a local receiver, it schedules and notifies', async () => {
    const { token, secret } = s.token();
    const refused = await runSnippet(AUTO_ROTATE, secret);
    expect(refused.http).toHaveLength(1);
    expect(refused.http[0]).toMatchObject({ status: 400, body: { error: { code: 'webhook_url_refused' } } });
    expect(String((refused.http[0]!.body as { error: { message: string } }).error.message)).toContain('your-agent.com is not loopback');
    expect(s.tokens.get(token.id)!.meta.autoRotate).toBeUndefined();

    const run = await runSnippet(AUTO_ROTATE, secret, { 'https://your-agent.com': rx.url });
    expect(run.http[0]).toMatchObject({ status: 200, body: { enabled: true, rotation_interval_days: 90, webhook_url: `${rx.url}/key-rotated` } });
    const signing = String(run.http[0]!.body!.webhook_signing_secret);
    expect(s.tokens.get(token.id)!.meta.autoRotate).toMatchObject({ intervalDays: 90, webhookUrl: `${rx.url}/key-rotated`, nextAt: s.clock.now + 90 * DAY_MS });

    // "Get notified": 90 days later the daemon rotates and the webhook carries the new key.
    s.clock.now += 90 * DAY_MS;
    await s.daemon.lifecycle.tick();
    const [hook] = await rx.waitFor(1);
    const body = JSON.parse(hook!.body) as { event: string; token_id: string; new_api_key: string };
    expect(body).toMatchObject({ event: 'key.rotated', token_id: token.id });
    expect(verifySignature(signing, { signature: String(hook!.headers['x-skillboss-signature']), timestamp: String(hook!.headers['x-skillboss-timestamp']) }, hook!.body, Date.now())).toBe(true);
    expect(await works(body.new_api_key)).toBe(200);
    keychainVault(s.dataDir).remove(VAULT.webhookSecret(token.id));
  });

  it('Parent-Child Agent Hierarchy: a $25, 30-day child with two scopes, then revoked by its key', async () => {
    const parent = s.token({ preset: 'admin' });
    const run = await runSnippet(CREATE_CHILD_AND_REVOKE, parent.secret);
    expect(run.http.map((h) => [h.method, h.status])).toEqual([
      ['POST', 200],
      ['DELETE', 200],
    ]);
    const childKey = run.vars.child_key!;
    const created = run.http[0]!.body as { id: string };
    const child = s.tokens.get(created.id)!;
    expect(child).toMatchObject({ name: 'ResearchAgent-1', parentId: parent.token.id, scopes: ['models:read', 'models:use'], budget: 25_000_000 });
    expect(child.expiresAt).toBe(s.clock.now + 30 * DAY_MS);
    expect(child.revokedAt).not.toBeNull();
    expect(run.http[1]!.body).toMatchObject({ revoked: true, id: created.id });
    expect(await works(childKey)).toBe(401);
    expect(await works(parent.secret)).toBe(200);
  });

  it('Creating scoped keys: a child with the given scopes and monthly budget', async () => {
    const admin = s.token({ preset: 'admin' });
    const run = await runSnippet(SCOPED_KEY, admin.secret);
    expect(run.http[0]!.status).toBe(200);
    const limited = run.vars.limited_key!;
    const row = s.tokens.get(String(run.http[0]!.body!.id))!;
    expect(row).toMatchObject({ name: 'ReadOnlyResearchAgent', parentId: admin.token.id, scopes: ['models:read', 'models:use'], budget: 50_000_000 });
    expect(await works(limited)).toBe(200);
    const balance = await fetch(`${s.baseURL}/balance`, { headers: { authorization: `Bearer ${limited}` } });
    expect(balance.status).toBe(403);
  });
});
