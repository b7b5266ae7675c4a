/**
 * The tray's notification for a token on hold (issue 16): the daemon trips a
 * hold in the database, the tray's next poll gives one notice that opens the
 * Tokens page, never twice (also after a restart of the app); a later hold of
 * the same token is news again.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Alerts } from '../../../main/logic/alerts.js';
import { JsonFile, TrayMemory } from '../../../main/logic/prefs.js';
import { SidecarEvents } from '../../../proxy/core/events.js';
import { openDatabase } from '../../../proxy/db/database.js';
import { createBudgets } from '../../../proxy/server/deps.js';
import { decideHold } from '../../../proxy/spend/holds.js';
import { scopesFromPreset } from '../../../proxy/tokens/scopes.js';
import { TokenStore } from '../../../proxy/tokens/store.js';
import { tempDir, testClock } from '../../helpers/stack.js';

const NOW = Date.UTC(2026, 4, 10, 12);

describe('a token on hold, as the tray reads it', () => {
  const dir = tempDir('sbs-notify-hold-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('notifies once per hold, at once, and again for the next hold', () => {
    const clock = testClock(NOW);
    const db = openDatabase(dir);
    const tokens = new TokenStore(db, clock);
    const budgets = createBudgets(db, new SidecarEvents());
    const memory = new JsonFile(join(dir, 'tray-state.json'), TrayMemory);
    const alerts = new Alerts(db, memory);
    const t = tokens.create({ name: 'runaway', scopes: scopesFromPreset('write'), holdAbove: 100 }, 'test').token;
    expect(alerts.poll(clock())).toEqual([]);

    expect(() => budgets.reserve([t], 500, clock())).toThrow(/on hold/);
    const [n, ...rest] = alerts.poll(clock());
    expect(rest).toEqual([]);
    expect(n).toMatchObject({ kind: 'spend_hold', target: 'tokens', title: 'Spend on hold: “runaway” needs your approval' });
    expect(n!.body).toContain('approval threshold of $0.0001');
    clock.now += 5000;
    expect(alerts.poll(clock())).toEqual([]);
    expect(new Alerts(db, memory).poll(clock())).toEqual([]);

    decideHold(db, tokens, t.id, 'approved', 'cli', clock(), { holdAbove: 1_000 });
    expect(alerts.poll(clock())).toEqual([]);
    clock.now += 1000;
    expect(() => budgets.reserve([tokens.get(t.id)!], 2_000, clock())).toThrow(/on hold/);
    expect(alerts.poll(clock()).map((x) => x.kind)).toEqual(['spend_hold']);
    db.close();
  });
});
