/**
 * A dialect: the API an agent speaks on a route when it is not the
 * upstream's (OpenAI chat completions). The route table names a route's
 * dialect (`RouteDef.dialect`); the daemon hands the pipeline a map from
 * those names to values of this shape (server/dialects.ts), so the stages
 * translate through whatever the map holds and import no dialect's module.
 * Adding a dialect is a name in `DialectName`, a value in that map and the
 * routes that use it; no stage changes.
 */
import { toOpenAIBody, type SidecarError } from '../core/errors.js';
import type { TokenizerPool } from '../pricing/tokenizer-pool.js';
import type { RequestBody } from './body.js';
import type { Usage } from './usage.js';
import { SseTap, type StreamTap } from './sse.js';

/** The dialects the route table may name; `openai` is the upstream's own (nothing translated). */
export type DialectName = 'openai' | 'anthropic';

/** What a dialect's stream tap is built from: the request as estimated, and what the pipeline lends it. */
export interface TapOptions {
  /** The model the client asked for, echoed back. */
  model: string;
  /** The prompt as counted when it was counted exactly (0 otherwise), until the upstream's usage comes. */
  promptTokens: number;
  /** The sidecar asked for the usage chunk on the client's behalf: it is not passed on. */
  hideUsage: boolean;
  /** Reads the usage of one upstream chunk (the route's meter's reader, meters.ts). */
  readUsage(chunk: Record<string, unknown>): Usage | null;
  /** Scrubs the real key from upstream text the tap writes into an event itself. */
  redact(text: string): string;
  /** Set: SkillBoss's `_` fields are taken out of each chunk, and this hears what was taken (upstream/hygiene.ts). */
  onInjected?: (removed: Record<string, unknown>) => void;
}

/** What a dialect's request translation is lent: the worker pool for a large body, the token the job is for, the depth limit. */
export interface TranslateOptions {
  pool: Pick<TokenizerPool, 'translate'>;
  owner: string;
  maxDepth: number;
}

export interface Dialect {
  /**
   * The agent's request as the upstream's, serialised once; absent: the
   * request goes as it came (and a large one may be scanned, not parsed).
   * A small body comes parsed (`json`) and is translated on the loop; a
   * large one comes as bytes only (body.ts) and is parsed, translated and
   * serialised in the worker pool, coming back as a scanned body (`scan`:
   * its fields and their byte ranges), so nothing proportional to it runs
   * on the event loop (issue 27 item 5). A refusal may carry the `model`
   * the body named, for the ledger's row.
   */
  request?(body: RequestBody, o: TranslateOptions): RequestBody | Promise<RequestBody>;
  /** A JSON answer of the upstream's, translated back; absent: relayed as it is. */
  response?(answer: Record<string, unknown>, model: string): unknown;
  /** The tap a streamed answer passes through: it meters the stream and, for a translating dialect, rewrites it. */
  tap(o: TapOptions): StreamTap;
  /** A refusal as this dialect's error body: the one place the envelope differs. */
  errorBody(err: SidecarError): unknown;
  /** Said after the upstream's own 404 (a model named as this dialect's clients name it by default). */
  notFoundHint?: string;
}

export type Dialects = Readonly<Record<DialectName, Dialect>>;

/** The upstream's own API: nothing translated, the usage chunk hidden when the sidecar asked for it. */
export const OPENAI_DIALECT: Dialect = {
  tap: (o) => new SseTap(o.hideUsage, undefined, o.readUsage, o.onInjected, o.redact),
  errorBody: (err) => toOpenAIBody(err),
};

/** The dialect a route speaks, from the map the daemon handed in. */
export function dialectOf(dialects: Dialects, def: { dialect?: DialectName }): Dialect {
  return dialects[def.dialect ?? 'openai'];
}
