/**
 * The README's Claude Code / Anthropic SDK recipe (docs/recipes/anthropic-sdk.mjs)
 * run as its own process with only the two variables `skillboss-sidecar
 * connect claude` prints: the daemon's URL without /v1, and the token.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { runRecipe } from './recipes.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});

it('anthropic SDK: a message and a stream, metered on /v1/messages', async () => {
  const { token, secret } = s.token({ budgetUsd: 5 });
  const r = await runRecipe('anthropic-sdk.mjs', { ANTHROPIC_BASE_URL: s.daemon.url, ANTHROPIC_AUTH_TOKEN: secret });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toBe('Echo: Hello\nEcho: Stream please\n');
  const rows = s.daemon.db.prepare('SELECT route, status, streamed FROM usage WHERE token_id = ? ORDER BY id').all(token.id);
  expect(rows).toEqual([
    { route: '/v1/messages', status: 200, streamed: 0 },
    { route: '/v1/messages', status: 200, streamed: 1 },
  ]);
});
