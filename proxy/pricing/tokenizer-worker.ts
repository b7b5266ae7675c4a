/**
 * A tokenizer thread (see tokenizer-pool.ts): parses a request body it is
 * handed as bytes and counts its prompt exactly, or counts a text, or
 * translates a large request of another dialect into the upstream's
 * (parse, validate, translate, serialise: anthropic/translate.ts), so that no
 * prompt-sized work runs on the daemon's event loop. The encoder loads on the
 * first count, in this thread only; a translation never loads it.
 */
import { parentPort } from 'node:worker_threads';
import { SidecarError } from '../core/errors.js';
import { parseJsonObject, type BodyScan } from '../core/json.js';
import { promptTokensOf, type PromptShape } from './prompt.js';
import { countTokens, tokenizerReady } from './tokenizer.js';

/** The dialects whose large requests a thread translates (their module's `…Scanned` function). */
export type TranslatedDialect = 'anthropic';

export type TokenizerJob =
  | { id: number; kind: 'prompt'; shape: PromptShape; body: ArrayBuffer }
  | { id: number; kind: 'text'; text: string }
  | { id: number; kind: 'translate'; dialect: TranslatedDialect; body: ArrayBuffer; maxDepth: number }
  /** A count_tokens request of the dialect: parsed, translated and its prompt counted, all here. */
  | { id: number; kind: 'count-translated'; dialect: TranslatedDialect; body: ArrayBuffer; maxDepth: number };

/** A refusal made in the thread, carried back whole (the 400 the client gets names the same field). */
export interface Refusal {
  status: number;
  type: SidecarError['type'];
  code: string;
  message: string;
  details?: Record<string, string>;
  /** The model the body asked for, when it got that far: the ledger's refused row names it. */
  model?: string;
}

export type TokenizerAnswer =
  | { id: number; tokens: number }
  | { id: number; translated: { body: ArrayBuffer; scan: BodyScan } }
  | { id: number; refused: Refusal }
  | { id: number; error: string; invalidJson: boolean };

const decoder = new TextDecoder();

/** The translation (and zod with it) loads on the first translation job: a thread that only counts never carries it. */
let translation: Promise<typeof import('../anthropic/translate.js')> | undefined;
const translator = () => (translation ??= import('../anthropic/translate.js'));

async function count(job: Extract<TokenizerJob, { kind: 'prompt' | 'text' }>): Promise<number> {
  await tokenizerReady();
  if (job.kind === 'text') return countTokens(job.text);
  // The body was validated (depth, top-level fields) before it was sent here.
  const body = JSON.parse(decoder.decode(job.body)) as Record<string, unknown>;
  return promptTokensOf(job.shape, body, countTokens);
}

async function translate(job: Extract<TokenizerJob, { kind: 'translate' }>): Promise<TokenizerAnswer> {
  const { chatBodyScanned } = await translator();
  let json: Record<string, unknown> | undefined;
  try {
    json = parseJsonObject(Buffer.from(job.body), job.maxDepth);
    const { raw, scan } = chatBodyScanned(json);
    // `raw` is a fresh buffer; its ArrayBuffer (a pool slab only for small ones, never here) goes back without a copy.
    const body = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength ? (raw.buffer as ArrayBuffer) : (raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer);
    return { id: job.id, translated: { body, scan } };
  } catch (err) {
    if (!(err instanceof SidecarError)) throw err;
    return { id: job.id, refused: refusalOf(err, json) };
  }
}

async function countTranslated(job: Extract<TokenizerJob, { kind: 'count-translated' }>): Promise<TokenizerAnswer> {
  const { countMessagesTokens } = await translator();
  let json: Record<string, unknown> | undefined;
  try {
    json = parseJsonObject(Buffer.from(job.body), job.maxDepth);
    await tokenizerReady();
    return { id: job.id, tokens: countMessagesTokens(json).input_tokens };
  } catch (err) {
    if (!(err instanceof SidecarError)) throw err;
    return { id: job.id, refused: refusalOf(err, json) };
  }
}

function refusalOf(err: SidecarError, json: Record<string, unknown> | undefined): Refusal {
  const model = typeof json?.model === 'string' ? json.model.slice(0, 200) : undefined;
  return { status: err.status, type: err.type, code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}), ...(model !== undefined ? { model } : {}) };
}

function failure(id: number, err: unknown): TokenizerAnswer {
  return { id, error: err instanceof Error ? err.message : String(err), invalidJson: err instanceof SyntaxError };
}

parentPort!.on('message', (job: TokenizerJob) => {
  if (job.kind === 'translate') {
    translate(job).then(
      (answer) => parentPort!.postMessage(answer, 'translated' in answer ? [answer.translated.body] : []),
      (err: unknown) => parentPort!.postMessage(failure(job.id, err)),
    );
    return;
  }
  if (job.kind === 'count-translated') {
    countTranslated(job).then(
      (answer) => parentPort!.postMessage(answer),
      (err: unknown) => parentPort!.postMessage(failure(job.id, err)),
    );
    return;
  }
  count(job).then(
    (tokens) => parentPort!.postMessage({ id: job.id, tokens } satisfies TokenizerAnswer),
    (err: unknown) => parentPort!.postMessage(failure(job.id, err)),
  );
});
