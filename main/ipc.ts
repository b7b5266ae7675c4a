/**
 * IPC handlers for the dashboard window, one per channel of the shared map
 * (logic/ipc-schema.ts). Each first checks who is asking — the top frame of
 * our own window, showing the dashboard origin — then re-validates the
 * arguments with the channel's schema. Nothing else is reachable from a page.
 */
import { clipboard, ipcMain, shell, type IpcMainInvokeEvent } from 'electron';
import { parseIpcArgs, type IpcChannel, type IpcParsed, type IpcResult } from './logic/ipc-schema.js';
import { isTrustedSender } from './logic/security.js';
import type { AppContext } from './context.js';

export interface IpcDeps {
  /** The dashboard window's webContents id (null when closed) and the daemon origin. */
  webContentsId(): number | null;
  origin(): string | null;
  notify(title: string, body: string): void;
}

/** Registers every channel's handler; returns a function that removes them. */
export function registerIpc(deps: IpcDeps): () => void {
  const channels: IpcChannel[] = [];

  function handle<C extends IpcChannel>(channel: C, fn: (args: IpcParsed<C>) => IpcResult<C> | Promise<IpcResult<C>>): void {
    channels.push(channel);
    ipcMain.handle(channel, (event: IpcMainInvokeEvent, ...args: unknown[]) => {
      const frame = event.senderFrame;
      const trusted = isTrustedSender(
        { frameUrl: frame?.url, isMainFrame: frame !== null && frame.parent === null, webContentsId: event.sender.id },
        { webContentsId: deps.webContentsId(), origin: deps.origin() ?? '' },
      );
      if (!trusted) throw new Error(`${channel}: refused, the sender is not the dashboard window`);
      return fn(parseIpcArgs(channel, args));
    });
  }

  handle('clipboard:write', ([text]) => clipboard.writeText(text));
  handle('shell:open-external', async ([url]) => {
    await shell.openExternal(url);
  });
  handle('app:notify', ([n]) => deps.notify(n.title, n.body));

  return () => {
    for (const c of channels) ipcMain.removeHandler(c);
  };
}

export function setupIpc(ctx: AppContext): void {
  const remove = registerIpc({
    webContentsId: () => ctx.window.webContentsId(),
    origin: () => ctx.backend?.url ?? null,
    notify: (title, body) => ctx.notifier.fromPage(title, body),
  });
  ctx.onShutdown(remove);
}
