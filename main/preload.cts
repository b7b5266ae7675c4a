/**
 * The dashboard window's preload. Sandboxed preloads cannot be ES modules and
 * cannot load files of their own (electron.org/docs/latest/tutorial/esm), so
 * this is CommonJS (.cts) and imports only types. It exposes named functions
 * only — never ipcRenderer itself — as `window.sidecar`.
 */
import { contextBridge, ipcRenderer } from 'electron';
import type { IpcArgs, IpcChannel, IpcResult, SidecarBridge } from './logic/ipc-schema.js';

function invoke<C extends IpcChannel>(channel: C, ...args: IpcArgs<C>): Promise<IpcResult<C>> {
  return ipcRenderer.invoke(channel, ...args) as Promise<IpcResult<C>>;
}

const bridge: SidecarBridge = {
  copyToClipboard: (text) => invoke('clipboard:write', String(text)),
  openExternal: (url) => invoke('shell:open-external', String(url)),
  notify: (title, body = '') => invoke('app:notify', { title: String(title), body: String(body) }),
};

contextBridge.exposeInMainWorld('sidecar', Object.freeze(bridge));
