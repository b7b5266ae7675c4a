/**
 * Loads a CommonJS bundle of the build (dist/bundle/daemon.cjs, cli.cjs) through `vm.Script` with a V8 code
 * cache, so a start does not parse and compile ~1-3 MB of JavaScript again, nor lazily compile the request path on
 * the first request (issue 27 item 4). Node 20 has no `module.enableCompileCache`, and Node 22's writes its cache
 * at compile time, without the functions start-up then runs; here the cache is made once start-up is done
 * (`startupDone()`: the first agent request answered, the daemon closed, or the process exiting), so it holds
 * the whole path to the first served request.
 *
 * The cache file is keyed by the bundle's build id (a hash of its source), the Node version, the architecture and
 * the Node/V8 flags (V8 refuses a cache made under other flags); it lives in the user's cache directory
 * (`SKILLBOSS_SIDECAR_CACHE_DIR`, else `$XDG_CACHE_HOME/skillboss-sidecar`, else the platform's), written
 * atomically with mode 0600 in a 0700 directory, and used only when it is ours (owner, not group/world writable)
 * and its SHA-256 matches (V8 release builds do not verify a cache's checksum). Anything wrong (no file, another
 * user's, corrupt, rejected by V8, an unwritable directory) falls back to a plain compile and, where it can,
 * writes a fresh cache. `SKILLBOSS_SIDECAR_CODE_CACHE=0` turns it off.
 *
 * Builtins come from `process.getBuiltinModule` (Node >= 20.16), not ESM imports, which would build each module's
 * ESM facade (for node:fs that loads the streams) before anything runs.
 */
import type * as Crypto from 'node:crypto';
import type * as Fs from 'node:fs';
import type * as Module from 'node:module';
import type * as Os from 'node:os';
import type * as Path from 'node:path';
import type * as Url from 'node:url';
import type * as Vm from 'node:vm';
import { envSetting } from './env.js';

const builtin = <T>(name: string): T => process.getBuiltinModule(name) as T;
const fs = builtin<typeof Fs>('node:fs');
const path = builtin<typeof Path>('node:path');

/**
 * A cache file: MAGIC, a SHA-256 (32 bytes) of the payload and of the bundle file it was made from (its size,
 * mtime and inode: V8 itself checks only the source's length), then the payload (V8's code cache). The hash
 * catches corruption and a cache of another build; it is no signature: what keeps others' bytes out is the
 * directory's and the file's ownership and modes (`privateDir`, `readCache`).
 */
const MAGIC = Buffer.from('SBSCC2\n\0', 'latin1');
const HEADER = MAGIC.length + 32;
/** Larger than any cache of these bundles (~1 MB): a file past it is not read. */
const MAX_CACHE_BYTES = 64 * 1024 * 1024;

export interface LoadedBundle {
  exports: Record<string, unknown>;
  /** Where the cache is (or would be); null when it is off. */
  cacheFile: string | null;
  /** 'hit' (V8 took the cache), 'miss' (none), 'rejected' (unusable file or refused by V8), 'off'. */
  cache: 'hit' | 'miss' | 'rejected' | 'off';
}

/** The directory the code cache goes in, or null when there is none to use. */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const own = envSetting('SKILLBOSS_SIDECAR_CACHE_DIR', env);
  if (own) return path.resolve(own);
  const os = builtin<typeof Os>('node:os');
  const xdg = envSetting('XDG_CACHE_HOME', env);
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'skillboss-sidecar');
  let home: string;
  try {
    home = os.homedir();
  } catch {
    return null;
  }
  if (!home) return null;
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Caches', 'skillboss-sidecar');
  if (process.platform === 'win32') {
    const local = envSetting('LOCALAPPDATA', env);
    return path.join(local ?? path.join(home, 'AppData', 'Local'), 'skillboss-sidecar', 'Cache');
  }
  return path.join(home, '.cache', 'skillboss-sidecar');
}

function sha256(data: Uint8Array): Buffer {
  return builtin<typeof Crypto>('node:crypto').createHash('sha256').update(data).digest();
}

/** The flags (and the node binary) the cache was made under: V8 refuses a cache from other flags, so each set gets its own file. */
function flagsKey(): string {
  const flags = [process.execPath, ...process.execArgv, envSetting('NODE_OPTIONS') ?? ''].join('\0');
  return sha256(Buffer.from(flags)).toString('hex').slice(0, 12);
}

/** What binds a cache to the bundle file it was made from. */
function sourceId(file: string): Buffer {
  const st = fs.statSync(file, { bigint: true });
  return Buffer.from(`${st.size}\0${st.mtimeNs}\0${st.ino}`);
}

function digest(payload: Uint8Array, source: Buffer): Buffer {
  return builtin<typeof Crypto>('node:crypto').createHash('sha256').update(source).update(payload).digest();
}

/**
 * Whether `dir` may hold the cache: a real directory (not a link), ours, and no one else's to write in, nor its
 * parent (unless that is sticky, as /tmp is); one of ours with looser modes is made 0700. A directory that is
 * missing is fine (it is made 0700) when its parent passes the same test. Windows: the user's profile decides.
 */
function privateDir(dir: string): boolean {
  if (process.platform === 'win32') return true;
  const uid = process.getuid?.();
  const parentOk = (p: string): boolean => {
    try {
      const st = fs.lstatSync(p);
      return st.isDirectory() && (st.uid === uid || st.uid === 0) && ((st.mode & 0o022) === 0 || (st.mode & 0o1000) !== 0);
    } catch {
      return false;
    }
  };
  let st: Fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    return parentOk(path.dirname(dir));
  }
  if (!st.isDirectory() || st.uid !== uid || !parentOk(path.dirname(dir))) return false;
  if ((st.mode & 0o077) !== 0) {
    try {
      fs.chmodSync(dir, 0o700);
    } catch {
      return false;
    }
  }
  return true;
}

/** The cache's payload, or null when the file is missing, not ours, or corrupt. */
function readCache(file: string, source: Buffer): { data: Buffer | null; present: boolean } {
  let fd: number;
  try {
    // Not through a link, and not blocking on a FIFO someone left there.
    const { O_RDONLY, O_NOFOLLOW = 0, O_NONBLOCK = 0 } = fs.constants;
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    return { data: null, present: (err as NodeJS.ErrnoException).code !== 'ENOENT' };
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > MAX_CACHE_BYTES) return { data: null, present: true };
    if (process.platform !== 'win32' && (st.uid !== process.getuid?.() || (st.mode & 0o077) !== 0 || st.nlink !== 1)) return { data: null, present: true };
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = fs.readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    if (off !== buf.length || buf.length <= HEADER || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return { data: null, present: true };
    const payload = buf.subarray(HEADER);
    if (!digest(payload, source).equals(buf.subarray(MAGIC.length, HEADER))) return { data: null, present: true };
    return { data: payload, present: true };
  } catch {
    return { data: null, present: true };
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes the cache atomically (a private temporary file renamed over the old one), mode 0600; removes this bundle's older caches. */
function writeCache(dir: string, file: string, prefix: string, payload: Buffer, source: Buffer): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!privateDir(dir)) return;
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, Buffer.concat([MAGIC, digest(payload, source), payload]));
    fs.fchmodSync(fd, 0o600);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  const base = path.basename(file);
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith(prefix) && name !== base && name.endsWith('.v8')) fs.rmSync(path.join(dir, name), { force: true });
  }
}

export interface LoadOptions {
  /** What runs (e.g. 'daemon', 'cli-serve'): each has its own cache, holding the functions its start-up ran. */
  role: string;
  /** A hash of the bundle's source, from the build (scripts/bundle.mjs). */
  buildId: string;
  /** 'latin1' when the bundle is ASCII (no UTF-8 decode needed). */
  encoding?: 'utf8' | 'latin1';
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs the CommonJS bundle at `fileUrl` (as Node's loader would: its own `require`, `module`, `__filename`) and
 * returns its exports.
 */
export function loadBundle(fileUrl: URL, opts: LoadOptions): LoadedBundle {
  const env = opts.env ?? process.env;
  const vm = builtin<typeof Vm>('node:vm');
  const file = builtin<typeof Url>('node:url').fileURLToPath(fileUrl);
  const source = fs.readFileSync(file, opts.encoding ?? 'utf8');
  const off = envSetting('SKILLBOSS_SIDECAR_CODE_CACHE', env) === '0';
  const wanted = off ? null : codeCacheDir(env);
  // A directory another user could write in (or swap) could hand this process code of theirs: no cache then.
  const dir = wanted && privateDir(wanted) ? wanted : null;
  const made = dir ? sourceId(file) : Buffer.alloc(0);
  const prefix = `${opts.role}-`;
  const cacheFile = dir ? path.join(dir, `${prefix}${opts.buildId}-${process.version}-${process.arch}-${flagsKey()}.v8`) : null;
  const cached = cacheFile ? readCache(cacheFile, made) : { data: null, present: false };

  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  // No import() in the bundle (scripts/bundle.mjs makes it require()): a script from a code cache could not run one.
  const script = new vm.Script(wrapped, { filename: file, ...(cached.data ? { cachedData: cached.data } : {}) });
  const state: LoadedBundle['cache'] = !dir ? 'off' : cached.data && !script.cachedDataRejected ? 'hit' : cached.present ? 'rejected' : 'miss';

  const mod = { exports: {} as Record<string, unknown> };
  const fn = script.runInThisContext() as (...args: unknown[]) => void;
  const req = builtin<typeof Module>('node:module').createRequire(file);
  fn.call(mod.exports, mod.exports, req, mod, file, path.dirname(file));

  if (dir && cacheFile && state !== 'hit') {
    let saved = false;
    const v8 = builtin<typeof import('node:v8')>('node:v8');
    const tag = v8.cachedDataVersionTag();
    const save = () => {
      if (saved) return;
      saved = true;
      // Flags changed since the compile (core/threads.ts does before its first worker) stamp the cache with a hash
      // the next start's V8 would refuse: nothing is written then.
      if (v8.cachedDataVersionTag() !== tag) return;
      try {
        writeCache(dir, cacheFile, prefix, script.createCachedData(), made);
      } catch {
        /* an unwritable cache directory only costs the next start its compile */
      }
    };
    // The bundle's own copy of proxy/core/startup.ts says when start-up is done; the exit is the fallback.
    const hook = mod.exports.onStartupDone as ((fn: () => void) => void) | undefined;
    hook?.(save);
    process.once('exit', save);
  }
  return { exports: mod.exports, cacheFile, cache: state };
}
