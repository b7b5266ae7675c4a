/** The base URL agents should use for this data dir: the running daemon's, else the default. */
import { DEFAULT_HOST, DEFAULT_PORT } from '../core/config.js';
import { readRuntime } from '../server/lock.js';
import { dataDirOf, type GlobalOptions } from './context.js';

export const DEFAULT_BASE_PATH = '/v1';

export function localBaseUrl(opts: GlobalOptions): string {
  return readRuntime(dataDirOf(opts))?.url ?? `http://${DEFAULT_HOST}:${DEFAULT_PORT}`;
}
