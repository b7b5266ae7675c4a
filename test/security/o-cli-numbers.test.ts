/**
 * Issue 17 item 6: the CLI parses money and counts with the admin API's
 * rules. `Number()` reads `0x10` as 16, `''` as 0 and `1e-9` as (almost) 0;
 * each of those, and `Infinity` and `-1`, must be refused with a message
 * naming the flag, and nothing created.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startStack, type Stack } from '../helpers/stack.js';

let s: Stack;

beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});

const cli = (...args: string[]) => runCli(['--data-dir', s.dataDir, ...args]);

describe('O. CLI number parsing (issue 17 item 6)', () => {
  it.each(['0x10', '', '1e-9', 'Infinity', '-1', '1e3', '0', '1,250', '5usd', 'NaN', '0.0000001', '2000000'])('O1 `token create --budget %j` is refused and creates nothing', async (budget) => {
    const before = s.tokens.list().length;
    const out = await cli('token', 'create', '--name', 'numbers', '--preset', 'read-only', '--budget', budget);
    expect(out.code, out.stdout).toBe(1);
    expect(out.stderr).toContain('--budget');
    expect(s.tokens.list().length).toBe(before);
  });

  it.each([
    ['--rpm', '0x10'],
    ['--rpm', '1.5'],
    ['--rpm', '-1'],
    ['--rpm', ''],
    ['--max-concurrent', '1e2'],
    ['--max-concurrent', '20000'],
  ])('O2 `token create %s %j` is refused', async (flag, value) => {
    const out = await cli('token', 'create', '--name', 'numbers', '--preset', 'read-only', flag, value);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(flag);
  });

  it('O3 plain amounts still work, exactly: 25, 2.50, $5, 0.000001 and none', async () => {
    for (const [budget, micros] of [['25', 25_000_000], ['2.50', 2_500_000], ['$5', 5_000_000], ['0.000001', 1], ['none', null]] as const) {
      const out = await cli('token', 'create', '--name', `ok-${budget}`, '--preset', 'read-only', '--budget', budget, '--rpm', '60', '--json');
      expect(out.code, out.stderr).toBe(0);
      const id = (JSON.parse(out.stdout) as { id: string }).id;
      expect(s.tokens.get(id)!.budget).toBe(micros);
    }
  });

  it.each([
    ['--port', '0x10'],
    ['--port', '1e3'],
    ['--port', '65536'],
    ['--max-body-mb', 'Infinity'],
    ['--upstream-timeout', '0x10'],
    ['--headers-timeout', '1e1'],
    ['--max-connections', '1e2'],
    ['--auth-failures-per-minute', '-1'],
    ['--max-response-minutes', ''],
  ])('O5 `serve %s %j` is refused before anything starts (serve read these with Number())', async (flag, value) => {
    const out = await cli('serve', flag, value);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`${flag} `);
    expect(out.stdout).not.toContain('listening');
  });

  it('O4 `price set` holds prices to the same rule', async () => {
    const out = await cli('price', 'set', 'gpt-4o', '--prompt', '0x10', '--completion', '1');
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('--prompt');
  });
});
