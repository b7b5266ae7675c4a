/**
 * Issue 25 item 2, as a property: whatever field of a request hides the
 * bytes (messages, content parts, tool calls, tools, functions,
 * response_format schemas, Responses input items, instructions and text
 * formats, Anthropic system and tools, embeddings arrays), every bound the
 * sidecar may reserve with is at least what the simulator counts and
 * charges: the byte bound of a parsed body, the scan's bound of a large one,
 * and the exact count the tokenizer pool makes. A small seeded generator
 * (fast-check is not a dependency); a failure prints its seed and body.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { chatBodyOf } from '../../proxy/anthropic/translate.js';
import { estimate, SCANNED_FIELDS } from '../../proxy/pipeline/estimate.js';
import type { Meter } from '../../proxy/pipeline/routes.js';
import { scanBody } from '../../proxy/pipeline/scan.js';
import type { PriceBook } from '../../proxy/pricing/prices.js';
import { countChatPromptTokens, countInputTokens, tokenizerReady } from '../../proxy/pricing/tokenizer.js';
import { responsesPromptTokens } from '../../proxy/simulator/responses.js';

beforeAll(async () => {
  await tokenizerReady();
});

/** mulberry32: small, fast, and the same sequence for a seed everywhere. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type R = () => number;
const pick = <T>(r: R, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: R, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

const ALPHABETS = [
  'the quick brown fox jumps over a lazy dog ',
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=',
  '{}[]":,\\\n\t ',
  'héllo wörld ñandú 東京 北京 😀🚀 ',
  '<|endoftext|><|im_start|> ',
  '\u0000\u001f\u2028\u2029\ufeff',
];

/** A text of up to `max` characters drawn from one or two alphabets. */
function text(r: R, max: number): string {
  const n = int(r, 0, max);
  const a = pick(r, ALPHABETS);
  const b = pick(r, ALPHABETS);
  let s = '';
  for (let i = 0; i < n; i++) s += pick(r, [...(r() < 0.8 ? a : b)]);
  return s;
}

function part(r: R): unknown {
  return pick(r, [
    () => ({ type: 'text', text: text(r, 300) }),
    () => ({ type: 'image_url', image_url: { url: `data:image/png;base64,${text(r, 200)}` } }),
    () => text(r, 50),
  ])();
}

function message(r: R): Record<string, unknown> {
  const m: Record<string, unknown> = { role: pick(r, ['user', 'assistant', 'system', 'tool']) };
  m.content = r() < 0.5 ? text(r, 600) : Array.from({ length: int(r, 0, 4) }, () => part(r));
  if (r() < 0.2) m.name = text(r, 20);
  if (r() < 0.2) m.tool_calls = [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: JSON.stringify({ q: text(r, 300) }) } }];
  return m;
}

const schema = (r: R) => ({ type: 'object', description: text(r, 800), properties: { a: { type: 'string', description: text(r, 200) } } });
const tools = (r: R) => Array.from({ length: int(r, 1, 3) }, () => ({ type: 'function', function: { name: 'lookup', description: text(r, 800), parameters: schema(r) } }));

function chatBody(r: R): Record<string, unknown> {
  const b: Record<string, unknown> = { model: 'gpt-4o', messages: Array.from({ length: int(r, 1, 5) }, () => message(r)) };
  if (r() < 0.5) b.tools = tools(r);
  if (r() < 0.3) b.functions = [{ name: 'f', description: text(r, 800), parameters: schema(r) }];
  if (r() < 0.3) b.response_format = { type: 'json_schema', json_schema: { name: 'x', schema: schema(r) } };
  return b;
}

function responsesBody(r: R): Record<string, unknown> {
  const b: Record<string, unknown> = { model: 'gpt-4o' };
  b.input =
    r() < 0.4
      ? text(r, 1500)
      : Array.from({ length: int(r, 1, 5) }, () =>
          pick(r, [
            () => message(r),
            () => ({ role: 'user', content: [{ type: 'input_text', text: text(r, 400) }, { type: 'input_image', image_url: 'https://x.example/a.png' }] }),
            () => ({ type: 'function_call', call_id: 'c1', name: 'f', arguments: JSON.stringify({ q: text(r, 300) }) }),
            () => ({ type: 'function_call_output', call_id: 'c1', output: text(r, 600) }),
          ])(),
        );
  if (r() < 0.5) b.instructions = text(r, 800);
  if (r() < 0.5) b.tools = tools(r).map((t) => ({ type: 'function', name: t.function.name, description: t.function.description, parameters: t.function.parameters }));
  if (r() < 0.3) b.text = { format: { type: 'json_schema', name: 'x', schema: schema(r) } };
  return b;
}

function embeddingsBody(r: R): Record<string, unknown> {
  const input = pick(r, [() => text(r, 2000), () => Array.from({ length: int(r, 1, 6) }, () => text(r, 400)), () => Array.from({ length: int(r, 1, 50) }, () => int(r, 0, 100_000))])();
  return { model: 'text-embedding-3-small', input };
}

function messagesBody(r: R): Record<string, unknown> {
  const b: Record<string, unknown> = {
    model: 'claude-4-5-sonnet',
    max_tokens: 64,
    messages: Array.from({ length: int(r, 1, 4) }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: r() < 0.5 ? text(r, 600) : [{ type: 'text', text: text(r, 600) }] })),
  };
  if (r() < 0.6) b.system = r() < 0.5 ? text(r, 1000) : [{ type: 'text', text: text(r, 1000) }];
  if (r() < 0.5) b.tools = [{ name: 'lookup', description: text(r, 1000), input_schema: schema(r) }];
  return b;
}

const PRICES = { cost: () => ({ micros: 0, source: 'default' }) } as unknown as PriceBook;

/** Every bound the sidecar may reserve with for `body` on a route of `meter`. */
function bounds(meter: Meter, body: Record<string, unknown>): Record<string, number> {
  const raw = Buffer.from(JSON.stringify(body));
  return {
    byteBound: estimate(meter, body, PRICES, 4096, 'upper').promptTokens,
    scanBound: meter === 'completion' ? Number.POSITIVE_INFINITY : scanBody(raw, SCANNED_FIELDS, 64).promptBound,
    // What the tokenizer pool counts: the same function, handed the parsed bytes.
    exact: estimate(meter, JSON.parse(raw.toString('utf8')) as Record<string, unknown>, PRICES, 4096, 'exact').promptTokens,
  };
}

const RUNS = 150;

describe('every prompt bound is at least what the upstream counts (property)', () => {
  const cases: Array<[string, Meter, (r: R) => Record<string, unknown>, (b: Record<string, unknown>) => number]> = [
    ['chat', 'chat', chatBody, (b) => countChatPromptTokens(b.messages, b.tools)],
    ['responses', 'responses', responsesBody, (b) => responsesPromptTokens(b.input, typeof b.instructions === 'string' ? b.instructions : '', b.tools)],
    ['embeddings', 'embedding', embeddingsBody, (b) => countInputTokens(b.input)],
    // Anthropic Messages: translated to the chat body the upstream receives, which the simulator counts.
    ['anthropic messages', 'chat', (r) => chatBodyOf(messagesBody(r)).json, (b) => countChatPromptTokens(b.messages, b.tools)],
  ];
  for (const [name, meter, gen, simulated] of cases) {
    it(name, () => {
      for (let seed = 1; seed <= RUNS; seed++) {
        const body = gen(rng(seed * 7919 + name.length));
        const sim = simulated(body);
        for (const [kind, bound] of Object.entries(bounds(meter, body))) {
          if (bound < sim) expect.fail(`${name} seed ${seed}: ${kind} ${bound} < simulator's ${sim} for ${JSON.stringify(body).slice(0, 400)}`);
        }
      }
    });
  }
});
