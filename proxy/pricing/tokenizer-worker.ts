/**
 * A tokenizer thread (see tokenizer-pool.ts): parses a request body it is
 * handed as bytes and counts its prompt exactly, or counts a text, so that no
 * prompt-sized work runs on the daemon's event loop. The encoder loads on the
 * first job, in this thread only.
 */
import { parentPort } from 'node:worker_threads';
import { promptTokensOf, type PromptShape } from './prompt.js';
import { countTokens, tokenizerReady } from './tokenizer.js';

export type TokenizerJob =
  | { id: number; kind: 'prompt'; shape: PromptShape; body: ArrayBuffer }
  | { id: number; kind: 'text'; text: string };

export type TokenizerAnswer = { id: number; tokens: number } | { id: number; error: string; invalidJson: boolean };

const decoder = new TextDecoder();

async function run(job: TokenizerJob): Promise<number> {
  await tokenizerReady();
  if (job.kind === 'text') return countTokens(job.text);
  // The body was validated (depth, top-level fields) before it was sent here.
  const body = JSON.parse(decoder.decode(job.body)) as Record<string, unknown>;
  return promptTokensOf(job.shape, body, countTokens);
}

parentPort!.on('message', (job: TokenizerJob) => {
  run(job).then(
    (tokens) => parentPort!.postMessage({ id: job.id, tokens } satisfies TokenizerAnswer),
    (err: unknown) =>
      parentPort!.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err), invalidJson: err instanceof SyntaxError } satisfies TokenizerAnswer),
  );
});
