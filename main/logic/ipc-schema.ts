/**
 * The one IPC channel map shared by the preload (sender) and ipc.ts
 * (handlers): each channel's arguments as a zod schema — the main process
 * re-validates everything, a compromised page can send anything — and its
 * result type. The preload imports only types from here (it runs sandboxed
 * and cannot load modules), so channel names are checked at compile time.
 */
import { z } from 'zod';
import { isSafeExternalUrl } from './security.js';

export const IPC_SCHEMAS = {
  'clipboard:write': z.tuple([z.string().max(100_000)]),
  'shell:open-external': z.tuple([z.string().refine(isSafeExternalUrl, 'only http(s) URLs without credentials may be opened')]),
  'app:notify': z.tuple([
    z
      .object({
        title: z.string().trim().min(1).max(120),
        body: z.string().max(1000).default(''),
      })
      .strict(),
  ]),
} as const;

export type IpcChannel = keyof typeof IPC_SCHEMAS;
/** What the page passes (before defaults are applied). */
export type IpcArgs<C extends IpcChannel> = z.input<(typeof IPC_SCHEMAS)[C]>;
/** What a handler receives after validation. */
export type IpcParsed<C extends IpcChannel> = z.output<(typeof IPC_SCHEMAS)[C]>;

export interface IpcResults {
  'clipboard:write': void;
  'shell:open-external': void;
  'app:notify': void;
}

export type IpcResult<C extends IpcChannel> = IpcResults[C];

/** What the preload exposes to the dashboard as `window.sidecar` (named functions only). */
export interface SidecarBridge {
  copyToClipboard(text: string): Promise<void>;
  openExternal(url: string): Promise<void>;
  notify(title: string, body?: string): Promise<void>;
}

export class IpcArgumentError extends Error {
  override name = 'IpcArgumentError';
}

/** Validates a channel's arguments; the message names what was wrong, never echoes the value. */
export function parseIpcArgs<C extends IpcChannel>(channel: C, args: unknown[]): IpcParsed<C> {
  const r = IPC_SCHEMAS[channel].safeParse(args);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new IpcArgumentError(`${channel}: invalid argument${issue ? ` at ${issue.path.join('.') || '(all)'}: ${issue.message}` : ''}`);
  }
  return r.data as IpcParsed<C>;
}
