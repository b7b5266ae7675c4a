/**
 * Where in the dashboard each tray action or notification leads. The
 * dashboard (renderer/src/hooks.ts) routes on the URL hash (`#/tokens`,
 * ignoring anything after `?`); these are its paths, kept in one place so a
 * change there is a change here. `setup` is the first-run setup,
 * `?create=1` opens the tokens page's create dialog, `access` lists the
 * agents' access requests.
 */
import type { NoticeTarget } from './notify-rules.js';

export type DashboardPlace = NoticeTarget | 'new-token';

export const DASHBOARD_ROUTES: Record<DashboardPlace, string> = {
  overview: '/#/overview',
  tokens: '/#/tokens',
  'new-token': '/#/tokens?create=1',
  setup: '/#/setup',
  audit: '/#/audit',
  access: '/#/access',
};

export function dashboardUrl(origin: string, place: DashboardPlace): string {
  return new URL(DASHBOARD_ROUTES[place], origin).toString();
}
