/**
 * The tray's access-request notification (issue 9): a new pending request
 * gives one notice with the agent's name, scopes, budget and the code to
 * compare, which opens the Access page; never twice (also across a restart
 * of the app), and none for a request already answered or expired. First as
 * pure rules, then from a real SQLite file through the feed.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Alerts } from '../../../main/logic/alerts.js';
import { NotifyRules, type PendingAccess } from '../../../main/logic/notify-rules.js';
import { DASHBOARD_ROUTES, dashboardUrl } from '../../../main/logic/routes.js';
import { JsonFile, TrayMemory } from '../../../main/logic/prefs.js';
import { AccessRequests } from '../../../proxy/access/requests.js';
import { openDatabase } from '../../../proxy/db/database.js';
import { TokenStore } from '../../../proxy/tokens/store.js';
import { tempDir, testClock } from '../../helpers/stack.js';

const NOW = Date.UTC(2026, 4, 10, 12);
const req = (over: Partial<PendingAccess> = {}): PendingAccess => ({
  id: 'areq_aaaaaaaaaaaaaaaaaaaa',
  name: 'researcher',
  userCode: 'WDJB-MJHT',
  scopes: ['models:read', 'models:use'],
  monthlyBudgetMicros: 20_000_000,
  expiresAt: NOW + 10 * 60_000,
  ...over,
});

describe('access request rule', () => {
  it('one notice per new request, naming the agent, scopes, budget and code, leading to the Access page', () => {
    const rules = new NotifyRules();
    expect(rules.evaluate({ access: [req()] }, NOW)).toEqual([
      {
        key: 'access:areq_aaaaaaaaaaaaaaaaaaaa',
        kind: 'access_request',
        title: 'Access request from “researcher”: WDJB-MJHT',
        body: 'Asks for $20.00 a month with models:read, models:use. Approve only if the agent shows the code WDJB-MJHT.',
        target: 'access',
      },
    ]);
    // Seen again at the next poll, still pending: nothing new.
    expect(rules.evaluate({ access: [req()] }, NOW + 2000)).toEqual([]);
    const second = rules.evaluate({ access: [req(), req({ id: 'areq_bbbbbbbbbbbbbbbbbbbb', name: 'scraper', userCode: 'BCDF-GHJK' })] }, NOW + 4000);
    expect(second.map((n) => n.title)).toEqual(['Access request from “scraper”: BCDF-GHJK']);
  });

  it('stays quiet about a request past its deadline, and is remembered across a restart', () => {
    const rules = new NotifyRules();
    expect(rules.evaluate({ access: [req({ expiresAt: NOW })] }, NOW)).toEqual([]);
    expect(rules.evaluate({ access: [req()] }, NOW)).toHaveLength(1);
    const restarted = new NotifyRules(JSON.parse(JSON.stringify(rules.memory())) as Record<string, number>);
    expect(restarted.evaluate({ access: [req()] }, NOW + 60_000)).toEqual([]);
  });

  it('comes before other alerts, so a burst folds those into the summary first', () => {
    const rules = new NotifyRules();
    const out = rules.evaluate(
      {
        upstream: { key: 'invalid', credits: 'out' },
        expiring: [{ tokenId: 'tok_x', tokenName: 'x', expiresAt: NOW + 3600_000 }],
        access: [req()],
      },
      NOW,
    );
    expect(out.map((n) => n.kind)).toEqual(['access_request', 'key_invalid', 'summary']);
  });

  it('opens the dashboard\'s Access page', () => {
    expect(DASHBOARD_ROUTES.access).toBe('/#/access');
    expect(dashboardUrl('http://127.0.0.1:7373', 'access')).toBe('http://127.0.0.1:7373/#/access');
  });
});

describe('from the database, as the tray reads it', () => {
  const dir = tempDir('sbs-notify-access-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('notices a request created by the agent path, once, and not after it is answered', () => {
    const clock = testClock(NOW);
    const db = openDatabase(dir);
    const service = new AccessRequests(db, new TokenStore(db, clock), clock);
    const memory = new JsonFile(join(dir, 'tray-state.json'), TrayMemory);
    const alerts = new Alerts(db, memory);
    expect(alerts.poll(clock())).toEqual([]);

    const { request } = service.create({ name: 'researcher', scopes: ['models:use', 'models:read'], budget: 5_000_000, expirationDays: 30, reason: null });
    const [n, ...rest] = alerts.poll(clock());
    expect(rest).toEqual([]);
    expect(n).toMatchObject({ kind: 'access_request', target: 'access', title: `Access request from “researcher”: ${request.userCode}` });
    expect(n!.body).toContain('$5.00 a month with models:read, models:use');
    clock.now += 2000;
    expect(alerts.poll(clock())).toEqual([]);
    // The app restarts while it still waits: the saved memory keeps it from repeating.
    expect(new Alerts(db, memory).poll(clock())).toEqual([]);

    // Answered before the tray looked: not news.
    const other = service.create({ name: 'scraper', scopes: ['models:read'], budget: 1_000_000, expirationDays: 7, reason: null });
    service.deny(other.request.id, {}, 'cli');
    expect(alerts.poll(clock()).filter((x) => x.kind === 'access_request')).toEqual([]);
    db.close();
  });
});
