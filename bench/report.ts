/** Formatting: one fixed-width table, target verdicts, and the JSON files. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureResultsDir, timestamp } from './common.js';

export type Cell = string | number;

export function table(headers: readonly string[], rows: readonly Cell[][]): string {
  const text = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmtNum(c) : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...text.map(line)].join('\n');
}

function fmtNum(n: number): string {
  if (!Number.isFinite(n)) return '—';
  if (Number.isInteger(n) && Math.abs(n) >= 1000) return n.toLocaleString('en-US');
  return String(n);
}

export function ms(n: number, digits = 3): string {
  return Number.isFinite(n) ? `${n.toFixed(digits)}` : '—';
}

export interface Verdict {
  name: string;
  value: string;
  target: string;
  pass: boolean | null;
}

export function verdicts(list: readonly Verdict[]): string {
  return table(
    ['goal (issues 15, 27)', 'measured', 'target', ''],
    list.map((v) => [v.name, v.value, v.target, v.pass === null ? '' : v.pass ? 'PASS' : 'MISS']),
  );
}

/** Writes bench/results/<prefix><timestamp>.json and <prefix>latest.json; returns the first path. */
export function writeResults(prefix: string, data: unknown): string {
  const dir = ensureResultsDir();
  const json = `${JSON.stringify(data, null, 2)}\n`;
  const file = join(dir, `${prefix}${timestamp()}.json`);
  writeFileSync(file, json);
  writeFileSync(join(dir, `${prefix}latest.json`), json);
  return file;
}
