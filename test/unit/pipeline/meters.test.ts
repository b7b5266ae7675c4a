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
import { METERS, SCANNED_FIELDS, validBody } from '../../../proxy/pipeline/meters.js';
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

  it("a kind's hand-written check passes only bodies its schema passes, and what it does not pass still gets the schema's error", () => {
    const fields: Record<string, unknown[]> = {
      model: [undefined, 'gpt-4o-mini', '', 'm'.repeat(256), 'm'.repeat(257), 7, null],
      stream: [undefined, true, false, null, 'true', 1],
      n: [undefined, null, 1, 128, 0, 129, 1.5, '2', Number.NaN],
      max_tokens: [undefined, null, 1, 10_000_000, 10_000_001, 0, -1, 2 ** 53, 64.5, '64'],
      max_completion_tokens: [undefined, 5, 0],
      messages: [undefined, [], [{ role: 'user', content: 'hi' }], {}, 'hi'],
      input: [undefined, 'text', ['a'], null],
      prompt: [undefined, 'text', [1, 2]],
    };
    // Every value of each field against a good body, one field changed at a time.
    const good = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], input: 'x', prompt: 'x' };
    const bodies: Array<Record<string, unknown>> = [good, {}, { model: 'gpt-4o-mini' }];
    for (const [f, values] of Object.entries(fields)) {
      for (const v of values) {
        const b: Record<string, unknown> = { ...good };
        if (v === undefined) delete b[f];
        else b[f] = v;
        bodies.push(b);
      }
    }
    let accepted = 0;
    let checked = 0;
    for (const [kind, spec] of Object.entries(METERS)) {
      if (!spec.accepts) continue;
      checked++;
      for (const b of bodies) {
        const zodSays = spec.schema!.safeParse(b).success;
        if (spec.accepts(b)) {
          accepted++;
          expect(zodSays, `${kind}: ${JSON.stringify(b)}`).toBe(true);
          expect(validBody(spec, b)).toBe(b);
        } else if (!zodSays) {
          expect(() => validBody(spec, b), `${kind}: ${JSON.stringify(b)}`).toThrow(/Invalid request body/);
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(4);
    // The common bodies take the fast path (else it would save nothing).
    expect(accepted).toBeGreaterThan(20);
    expect(METERS.chat.accepts!(good)).toBe(true);
  });
});
