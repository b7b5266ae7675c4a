/**
 * The ledger log: a pre-allocated file in the data dir where each settled
 * request's ledger row is written with one `write()` before its answer ends.
 * Once `write()` has returned, the bytes are in the OS page cache, so a
 * SIGKILL of the daemon cannot lose them (only an OS crash or power loss
 * could, as with SQLite's `synchronous = NORMAL`). The rows are committed to
 * SQLite in the same turn of the event loop, after the answers (settle.ts),
 * and the rows of a daemon that died before committing them are replayed at
 * its next start.
 *
 * Layout: a header line at offset 0 naming the generation, then records
 * `<length>\t<json>\n`, the json `[generation, chain token ids, row]`. A
 * reset (once every row written so far is committed) starts a new generation
 * at the start of the file: records of older generations left behind it are
 * never read again. A record cut short (a write a kill interrupted, which was
 * then never acknowledged) ends what is read.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import type { LedgerRow } from '../core/ledger.js';

export const LEDGER_LOG_FILE = 'ledger.log';
/** 1 MiB: ~2,500 rows between resets; a reset needs every row before it committed. */
export const LEDGER_LOG_BYTES = 1024 * 1024;
const HEADER_BYTES = 64;
/** What start-up reads of the file first. */
const READ_CHUNK = 64 * 1024;
const MAGIC = 'sidecar-ledger-log 1 ';

/** A row found in the log, with the ids of the token chain it charges (the token first). */
export interface LoggedRow {
  chain: string[];
  row: LedgerRow;
}

export class LedgerLog {
  private pos = HEADER_BYTES;
  private gen = 0;
  private scratch = Buffer.allocUnsafe(4096);

  private constructor(
    private fd: number | null,
    private size: number,
  ) {}

  /**
   * Opens (creating and pre-allocating, owner-only) the log at `file` and reads the rows of its
   * current generation: what the last daemon logged, committed or not. Throws when the file cannot
   * be created or allocated (the writer then runs without it).
   */
  static open(file: string, size = LEDGER_LOG_BYTES): { log: LedgerLog; found: LoggedRow[] } {
    let fd: number;
    try {
      fd = openSync(file, 'r+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      fd = openSync(file, 'wx+', 0o600);
    }
    try {
      const have = fstatSync(fd).size;
      const log = new LedgerLog(fd, Math.max(have, size));
      // Written, not truncated: the blocks are allocated now, so a full disk later cannot refuse a row that fits.
      const zeros = Buffer.alloc(64 * 1024);
      for (let at = have; at < size; at += zeros.length) log.writeAt(zeros.subarray(0, Math.min(zeros.length, size - at)), at);
      // Read from the start only as far as the current generation's records go: after a clean stop, one chunk.
      let found: LoggedRow[] = [];
      for (let len = Math.min(have, READ_CHUNK); ; len = Math.min(have, len * 4)) {
        const bytes = Buffer.allocUnsafe(Math.max(len, HEADER_BYTES)).fill(0, len);
        let got = 0;
        while (got < len) {
          const n = readSync(fd, bytes, got, len - got, got);
          if (n === 0) break;
          got += n;
        }
        const r = log.read(bytes.subarray(0, Math.max(got, HEADER_BYTES)));
        found = r.found;
        if (!r.cut || len >= have) break;
      }
      // Nothing to replay (or no valid header): a fresh generation, so no stale record can ever be read as current.
      if (found.length === 0) log.reset();
      return { log, found };
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** The records of the current generation in `bytes` (the file's start); `cut` when the bytes ended inside one. Sets where the next one goes. */
  private read(bytes: Buffer): { found: LoggedRow[]; cut: boolean } {
    const header = bytes.toString('latin1', 0, HEADER_BYTES);
    const m = header.startsWith(MAGIC) ? /^(\d+)/.exec(header.slice(MAGIC.length)) : null;
    // A new file, or a header that cannot be read: a generation no record left in the file can carry (they all count up from an earlier start).
    if (!m) {
      this.gen = Date.now();
      return { found: [], cut: false };
    }
    this.gen = Number(m[1]);
    const found: LoggedRow[] = [];
    let at = HEADER_BYTES;
    let cut = false;
    for (;;) {
      if (at >= bytes.length) {
        cut = true;
        break;
      }
      // A record starts with its length in digits; anything else (zeros after a reset) ends the generation.
      if (bytes[at]! < 0x30 || bytes[at]! > 0x39) break;
      const tab = bytes.indexOf(9, at);
      if (tab < 0) {
        cut = bytes.length - at <= 10;
        break;
      }
      if (tab - at > 10) break;
      const len = Number(bytes.toString('latin1', at, tab));
      const end = tab + 1 + len;
      if (!Number.isSafeInteger(len) || len <= 0) break;
      if (end >= bytes.length) {
        cut = true;
        break;
      }
      if (bytes[end] !== 10) break;
      let rec: unknown;
      try {
        rec = JSON.parse(bytes.toString('utf8', tab + 1, end));
      } catch {
        break;
      }
      if (!Array.isArray(rec) || rec[0] !== this.gen || !Array.isArray(rec[1]) || typeof rec[2] !== 'object' || rec[2] === null) break;
      found.push({ chain: rec[1] as string[], row: rec[2] as LedgerRow });
      at = end + 1;
    }
    this.pos = at;
    return { found, cut };
  }

  /**
   * Appends one row with one write(). False when it does not fit before the next reset, or the
   * write failed (the caller then waits for the SQLite commit instead, as without a log).
   */
  append(chain: readonly string[], row: LedgerRow, grow = false): boolean {
    if (this.fd === null) return false;
    const json = JSON.stringify([this.gen, chain, row]);
    // UTF-8 takes at most 3 bytes per UTF-16 unit; the length prefix counts bytes.
    const need = json.length * 3 + 16;
    if (this.scratch.length < need) this.scratch = Buffer.allocUnsafe(Math.max(need, this.scratch.length * 2));
    const n = this.scratch.write(json, 16, 'utf8');
    const prefix = `${n}\t`;
    const start = 16 - prefix.length;
    this.scratch.write(prefix, start, 'latin1');
    this.scratch[16 + n] = 10;
    const total = 16 + n + 1 - start;
    // Past the pre-allocated end only when told to (rows that cannot be committed yet must stay durable somewhere):
    // the file grows, and the next opener reads it to its real end.
    if (this.pos + total > this.size && !grow) return false;
    try {
      if (writeSync(this.fd, this.scratch, start, total, this.pos) !== total) throw new Error('short write to the ledger log');
    } catch (err) {
      this.writeError ??= err;
      return false;
    }
    this.pos += total;
    if (this.pos > this.size) this.size = this.pos;
    return true;
  }

  /** The first write that failed (the caller says so once), or null. */
  writeError: unknown = null;

  /** Whether anything was written since the last reset. */
  get used(): boolean {
    return this.pos > HEADER_BYTES;
  }

  /** Starts a new generation at the start of the file; only once every row logged so far is committed. */
  reset(): void {
    if (this.fd === null) return;
    const header = Buffer.alloc(HEADER_BYTES, 0x20);
    header.write(`${MAGIC}${this.gen + 1}`, 0, 'latin1');
    header[HEADER_BYTES - 1] = 10;
    this.writeAt(header, 0);
    this.gen += 1;
    this.pos = HEADER_BYTES;
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    closeSync(fd);
  }

  private writeAt(buf: Buffer, at: number): void {
    let done = 0;
    while (done < buf.length) done += writeSync(this.fd!, buf, done, buf.length - done, at + done);
  }
}
