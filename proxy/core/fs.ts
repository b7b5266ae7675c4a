/**
 * The one way a file is replaced: written beside itself under a fresh
 * temporary name (opened `wx`, so nothing already there is followed or
 * reused, with its mode set before any byte is written), flushed to disk,
 * renamed over the old one, and the directory entry flushed too. A crash
 * leaves the old file or the new one, never half of one, and an
 * acknowledged write survives a power cut.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  // The rename itself is durable only once the directory entry is flushed.
  let dfd: number | undefined;
  try {
    dfd = openSync(dir, 'r');
    fsyncSync(dfd);
  } catch {
    /* some filesystems (and Windows) cannot fsync a directory; the rename is still atomic */
  } finally {
    if (dfd !== undefined) closeSync(dfd);
  }
}
