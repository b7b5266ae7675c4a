/**
 * The meter kinds as a table (proxy/pipeline/meters.ts): every kind has an
 * entry the stages read, and no other file asks which kind a route is, so a
 * new kind is one entry. The second test shows the source check failing on
 * a line that branches on a kind.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { METERS, SCANNED_FIELDS } from '../../../proxy/pipeline/meters.js';
import { ROUTES } from '../../../proxy/pipeline/routes.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const KINDS = Object.keys(METERS);
/** A comparison with, or a `case` of, a meter kind's name. */
const BRANCH = new RegExp(`(===|!==)\\s*'(${KINDS.join('|')})'|case '(${KINDS.join('|')})'|meter\\s*(===|!==)`);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const branching = (text: string) => text.split('\n').filter((line) => BRANCH.test(line) && !line.includes("cmd === 'completion'"));

describe('the meter table', () => {
  it('has an entry for every kind a route names, and is the one file that branches on a kind', () => {
    for (const r of ROUTES) if (r.forward) expect(METERS[r.forward.meter], r.path).toBeDefined();
    const found = sources(join(ROOT, 'proxy'))
      .filter((f) => !f.endsWith(join('pipeline', 'meters.ts')))
      .flatMap((f) => branching(readFileSync(f, 'utf8')).map((line) => `${relative(ROOT, f)}: ${line.trim()}`));
    expect(found).toEqual([]);
  });

  it('the source check catches a branch on a kind', () => {
    expect(branching("  if (meter === 'call') return 0;\n  const x = 1;")).toHaveLength(1);
    expect(branching("    case 'embedding':")).toHaveLength(1);
  });

  it('a scan parses every field that bounds a completion', () => {
    for (const spec of Object.values(METERS)) for (const f of spec.completionFields) expect(SCANNED_FIELDS.has(f)).toBe(true);
  });
});
