/**
 * The preload, compiled exactly as tsc compiles main/preload.cts, run the way
 * a sandboxed Electron renderer runs it: a plain script whose `require` only
 * knows 'electron'. (Electron itself cannot be launched on the build
 * machines; this checks what can be checked without it.)
 */
import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const source = readFileSync(new URL('../../../main/preload.cts', import.meta.url), 'utf8');
const compiled = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;

function load() {
  const exposed = new Map<string, unknown>();
  const invoked: Array<{ channel: string; args: unknown[] }> = [];
  const required: string[] = [];
  const electron = {
    contextBridge: { exposeInMainWorld: (name: string, api: unknown) => exposed.set(name, api) },
    ipcRenderer: {
      invoke: (channel: string, ...args: unknown[]) => {
        invoked.push({ channel, args });
        return Promise.resolve(undefined);
      },
    },
  };
  const require = (id: string) => {
    required.push(id);
    if (id !== 'electron') throw new Error(`a sandboxed preload cannot require ${id}`);
    return electron;
  };
  const module = { exports: {} };
  runInNewContext(compiled, { require, module, exports: module.exports });
  return { exposed, invoked, required };
}

describe('the preload', () => {
  it('is a self-contained CommonJS script: no import statements, requires only electron', () => {
    expect(compiled).not.toMatch(/^\s*import\s/m);
    const { required } = load();
    expect(required).toEqual(['electron']);
  });

  it('exposes exactly three named functions as window.sidecar, frozen, and never ipcRenderer', () => {
    const { exposed } = load();
    expect([...exposed.keys()]).toEqual(['sidecar']);
    const api = exposed.get('sidecar') as Record<string, unknown>;
    expect(Object.keys(api).sort()).toEqual(['copyToClipboard', 'notify', 'openExternal']);
    for (const fn of Object.values(api)) expect(typeof fn).toBe('function');
    expect(Object.isFrozen(api)).toBe(true);
    expect(JSON.stringify(Object.keys(api))).not.toContain('ipc');
  });

  it('forwards each function to its channel with plain string arguments', async () => {
    const { exposed, invoked } = load();
    const api = exposed.get('sidecar') as { copyToClipboard(t: unknown): Promise<void>; openExternal(u: unknown): Promise<void>; notify(t: unknown, b?: unknown): Promise<void> };
    await api.copyToClipboard('http://127.0.0.1:7373/v1');
    await api.openExternal({ toString: () => 'https://skillboss.co/' });
    await api.notify('Copied');
    expect(invoked).toEqual([
      { channel: 'clipboard:write', args: ['http://127.0.0.1:7373/v1'] },
      { channel: 'shell:open-external', args: ['https://skillboss.co/'] },
      { channel: 'app:notify', args: [{ title: 'Copied', body: '' }] },
    ]);
  });
});
