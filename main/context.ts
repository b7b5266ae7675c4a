/**
 * What the main-process modules share: where things are, the preferences,
 * the one AppState, and the pieces each setupX() call adds (the daemon
 * backend, the window, the notifier). Created once by index.ts.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { app } from 'electron';
import { resolveDataDir } from '../proxy/core/config.js';
import { createLogger, openLogFile, type LogFile, type Logger } from '../proxy/core/log.js';
import { selectKeyStore } from '../proxy/keychain/select.js';
import type { KeyStore } from '../proxy/keychain/store.js';
import type { Backend } from './logic/backend.js';
import { APP_PREFS_FILE, AppPrefs, JsonFile, TRAY_MEMORY_FILE, TrayMemory } from './logic/prefs.js';
import type { DashboardPlace } from './logic/routes.js';
import { StateStore } from './logic/store.js';

export interface AppPaths {
  /** build/tray in development, resources/tray when packaged (electron-builder extraResources). */
  iconDir: string;
  preload: string;
  windowIcon: string;
}

/**
 * What the other modules use of the window and the notifier. Declared here,
 * narrow, rather than typed with their classes, so that this module (which
 * every feature imports) imports no feature back.
 */
export interface WindowHandle {
  open(place?: DashboardPlace): Promise<void>;
  /** The webContents id IPC handlers trust, or null when there is no window. */
  webContentsId(): number | null;
}

export interface NotifierHandle {
  /** From the dashboard page (rate limited). */
  fromPage(title: string, body: string): void;
}

export class AppContext {
  readonly dataDir: string;
  readonly paths: AppPaths;
  readonly prefs: JsonFile<typeof AppPrefs>;
  readonly memory: JsonFile<typeof TrayMemory>;
  readonly store: StateStore;
  readonly keyStore: KeyStore;
  /** Set by setupDaemon; null while starting, after a failure, or between a headless daemon leaving and us taking over. */
  backend: Backend | null = null;
  /** Set by setupWindow. */
  window!: WindowHandle;
  /** Set by setupNotifications. */
  notifier!: NotifierHandle;
  /** Set by setupDaemon: re-reads the state now (after an action) instead of at the next tick. */
  refresh: () => void = () => {};
  private readonly cleanups: Array<() => void | Promise<void>> = [];

  /** Opens the log file first (async), then builds the context. */
  static async create(argv: readonly string[]): Promise<AppContext> {
    const dataDir = resolveDataDir(flagValue(argv, '--data-dir'));
    let file: LogFile | undefined;
    try {
      file = await openLogFile(dataDir);
    } catch {
      /* an unwritable data dir is reported by the daemon's start; log to stderr meanwhile */
    }
    return new AppContext(dataDir, createLogger({ file, destination: file ? false : 2 }), file);
  }

  private constructor(
    dataDir: string,
    readonly log: Logger,
    private readonly logFile: LogFile | undefined,
  ) {
    this.dataDir = dataDir;
    const resources = app.isPackaged ? process.resourcesPath : join(app.getAppPath(), 'build');
    this.paths = {
      iconDir: join(resources, 'tray'),
      preload: fileURLToPath(new URL('./preload.cjs', import.meta.url)),
      windowIcon: join(resources, 'tray', 'app.png'),
    };
    this.prefs = new JsonFile(join(app.getPath('userData'), APP_PREFS_FILE), AppPrefs);
    this.memory = new JsonFile(join(this.dataDir, TRAY_MEMORY_FILE), TrayMemory);
    this.store = new StateStore({ autostart: this.prefs.read().autostart });
    this.keyStore = keyStoreOf(this.dataDir);
  }

  /** Registers work for shutdown; run in reverse order by `shutdown()`. */
  onShutdown(fn: () => void | Promise<void>): void {
    this.cleanups.push(fn);
  }

  async shutdown(): Promise<void> {
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        this.log.error({ err }, 'error while shutting down');
      }
    }
    this.cleanups.length = 0;
    this.logFile?.end();
  }
}

/** `--data-dir=DIR` or `--data-dir DIR` on the app's command line (else the env var or the platform default, as for the CLI). */
export function flagValue(argv: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1);
    if (a === flag) return argv[i + 1];
  }
  return undefined;
}

/**
 * The same key store the daemon and CLI pick (the OS keychain, or the
 * encrypted file when opted in). A bad choice is an error on use, which the
 * daemon's start and the checks then report, rather than a crash at launch.
 */
function keyStoreOf(dataDir: string): KeyStore {
  try {
    return selectKeyStore(dataDir);
  } catch (err) {
    const fail = (): never => {
      throw err;
    };
    return { kind: 'os-keychain', get: fail, set: fail, remove: fail };
  }
}
