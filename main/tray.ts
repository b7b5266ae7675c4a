/**
 * The tray icon and its menu: a thin view over logic/menu.ts. `render`
 * rebuilds both from the current AppState; clicks become ActionIds for the
 * caller to carry out.
 */
import { join } from 'node:path';
import { Menu, nativeImage, Tray, type MenuItemConstructorOptions } from 'electron';
import { iconState, menuModel, tooltip, trayIconFile, type ActionId, type MenuItemModel } from './logic/menu.js';
import type { AppState } from './logic/state.js';
import { runAction } from './actions.js';
import type { AppContext } from './context.js';

export class TrayView {
  private readonly tray: Tray;
  private lastIcon = '';

  constructor(
    private readonly iconDir: string,
    private readonly onAction: (action: ActionId) => void,
    initial: AppState,
  ) {
    this.tray = new Tray(this.image(initial));
    this.render(initial);
  }

  render(state: AppState): void {
    const file = trayIconFile(iconState(state), process.platform);
    if (file !== this.lastIcon) this.tray.setImage(this.image(state));
    this.tray.setToolTip(tooltip(state));
    this.tray.setContextMenu(Menu.buildFromTemplate(menuModel(state).map((item) => this.toElectron(item))));
  }

  destroy(): void {
    this.tray.destroy();
  }

  private image(state: AppState): Electron.NativeImage {
    this.lastIcon = trayIconFile(iconState(state), process.platform);
    return nativeImage.createFromPath(join(this.iconDir, this.lastIcon));
  }

  private toElectron(item: MenuItemModel): MenuItemConstructorOptions {
    if (item.type === 'separator') return { id: item.id, type: 'separator' };
    const action = item.action;
    return {
      id: item.id,
      type: item.type,
      label: item.label,
      enabled: item.enabled,
      ...(item.type === 'checkbox' ? { checked: item.checked ?? false } : {}),
      ...(action ? { click: () => this.onAction(action) } : {}),
    };
  }
}

export function setupTray(ctx: AppContext): void {
  const view = new TrayView(ctx.paths.iconDir, (action) => runAction(ctx, action), ctx.store.get());
  const unsubscribe = ctx.store.subscribe((s) => view.render(s));
  ctx.onShutdown(() => {
    unsubscribe();
    view.destroy();
  });
}
