/**
 * The ledger log's file (proxy/db/ledger-log.ts): what a daemon wrote is what
 * the next one reads, the current generation only, up to a record a kill cut
 * short; it is pre-allocated and owner-only.
 */
import { closeSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LedgerRow } from '../../../proxy/core/ledger.js';
import { LEDGER_LOG_BYTES, LedgerLog } from '../../../proxy/db/ledger-log.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sbs-ledger-log-'));
  file = join(dir, 'ledger.log');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

let seq = 0;
function row(over: Partial<LedgerRow> = {}): LedgerRow {
  return {
    ts: 1_900_000_000_000 + seq,
    request_id: `req-${++seq}`,
    token_id: 'tok_aaaaaaaaaaaaaaaaaaaa',
    method: 'POST',
    route: '/v1/chat/completions',
    model: 'gpt-4o-mini',
    prompt_tokens: 10,
    completion_tokens: 5,
    cached_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    cost_micros: 42,
    status: 200,
    latency_ms: 3,
    streamed: 0,
    usage_source: 'upstream',
    cost_source: 'price',
    error_code: null,
    error_message: null,
    ...over,
  };
}

describe('the ledger log', () => {
  it('gives the next opener every row appended, in order, with its chain; pre-allocated and owner-only', () => {
    const { log, found } = LedgerLog.open(file);
    expect(found).toEqual([]);
    expect(statSync(file).size).toBe(LEDGER_LOG_BYTES);
    expect(statSync(file).mode & 0o077).toBe(0);
    const rows = [row(), row({ error_message: 'Budget exhausted — “too much” ✓', status: 402, cost_micros: 0 }), row()];
    for (const r of rows) expect(log.append(['tok_aaaaaaaaaaaaaaaaaaaa', 'tok_parent'], r)).toBe(true);
    // No close: the next opener sees what a SIGKILL would leave (the bytes each write() put in the file).
    const again = LedgerLog.open(file);
    expect(again.found).toEqual(rows.map((r) => ({ chain: ['tok_aaaaaaaaaaaaaaaaaaaa', 'tok_parent'], row: r })));
    expect(statSync(file).size).toBe(LEDGER_LOG_BYTES);
    log.close();
    again.log.close();
  });

  it('reads a generation longer than its first read (64 KiB), to its last record', () => {
    const { log } = LedgerLog.open(file);
    const rows = Array.from({ length: 600 }, () => row());
    for (const r of rows) expect(log.append(['tok_a'], r)).toBe(true);
    log.close();
    const again = LedgerLog.open(file);
    expect(again.found.map((f) => f.row.request_id)).toEqual(rows.map((r) => r.request_id));
    again.log.close();
  });

  it('after a reset, reads only what came after it, although older records are still in the file behind it', () => {
    const { log } = LedgerLog.open(file);
    for (let i = 0; i < 5; i++) log.append(['tok_a'], row());
    log.reset();
    const after = row();
    log.append(['tok_a'], after);
    log.close();
    expect(LedgerLog.open(file).found).toEqual([{ chain: ['tok_a'], row: after }]);
  });

  it('a record a kill cut short ends what is read (it was never acknowledged); those before it are read', () => {
    const { log } = LedgerLog.open(file);
    const first = row();
    log.append(['tok_a'], first);
    log.append(['tok_a'], row());
    log.close();
    const bytes = readFileSync(file);
    const secondEnd = bytes.indexOf(10, bytes.indexOf(10, 64) + 1);
    for (const cut of [secondEnd, secondEnd - 5, secondEnd - 60]) {
      const torn = Buffer.from(bytes);
      torn.fill(0, cut, secondEnd + 1);
      writeFileSync(file, torn);
      expect(LedgerLog.open(file).found, `cut at ${cut}`).toEqual([{ chain: ['tok_a'], row: first }]);
    }
  });

  it('refuses a row that does not fit before the next reset, and takes it after one', () => {
    const { log } = LedgerLog.open(file, 4096);
    let n = 0;
    while (log.append(['tok_a'], row())) n++;
    expect(n).toBeGreaterThan(5);
    expect(log.used).toBe(true);
    log.reset();
    expect(log.used).toBe(false);
    expect(log.append(['tok_a'], row())).toBe(true);
    log.close();
    expect(LedgerLog.open(file, 4096).found).toHaveLength(1);
  });

  it('grows past its pre-allocated end when told to (rows the database cannot take yet), and the next opener reads them all', () => {
    const { log } = LedgerLog.open(file, 4096);
    let n = 0;
    while (log.append(['tok_a'], row())) n++;
    for (let i = 0; i < n + 5; i++) expect(log.append(['tok_a'], row(), true)).toBe(true);
    log.close();
    expect(statSync(file).size).toBeGreaterThan(4096);
    expect(LedgerLog.open(file, 4096).found).toHaveLength(2 * n + 5);
  });

  it('tells a full log (no error: commit and reset) from a write the disk refused (kept, for the writer to report once)', () => {
    const { log } = LedgerLog.open(file, 4096);
    while (log.append(['tok_a'], row()));
    expect(log.writeError).toBeNull();
    log.reset();
    // The descriptor taken away underneath it, as a failing disk would: the write throws, append says no.
    closeSync((log as unknown as { fd: number }).fd);
    expect(log.append(['tok_a'], row())).toBe(false);
    expect(log.writeError).toBeInstanceOf(Error);
  });

  it('a damaged header starts a fresh generation: nothing stale is read as current', () => {
    const { log } = LedgerLog.open(file);
    log.append(['tok_a'], row());
    log.close();
    const bytes = readFileSync(file);
    bytes.fill(0x41, 0, 10);
    writeFileSync(file, bytes);
    const reopened = LedgerLog.open(file);
    expect(reopened.found).toEqual([]);
    const fresh = row();
    reopened.log.append(['tok_a'], fresh);
    reopened.log.close();
    expect(LedgerLog.open(file).found).toEqual([{ chain: ['tok_a'], row: fresh }]);
  });
});
