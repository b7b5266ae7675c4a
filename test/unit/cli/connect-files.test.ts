/** `connect` prints a diff of the agent config it changes: credentials in it are never printed. */
import { describe, expect, it } from 'vitest';
import { hideCredentials, unifiedDiff } from '../../../proxy/cli/connect/files.js';

const SECRET = 'sk-ant-api03-made-up-for-this-test-0123456789';

describe('connect diffs', () => {
  it('hide a key the file held, in JSON, TOML and YAML, while the setting names stay visible', () => {
    const before = JSON.stringify({ env: { ANTHROPIC_API_KEY: SECRET, ANTHROPIC_AUTH_TOKEN: SECRET, OTHER: 'x' } }, null, 2);
    const after = JSON.stringify({ env: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:7373', OTHER: 'x' } }, null, 2);
    const diff = unifiedDiff('/home/u/.claude/settings.json', before, after);
    expect(diff).not.toContain(SECRET);
    expect(diff).toContain('-    "ANTHROPIC_API_KEY": "…hidden…"');
    expect(diff).toContain('+    "ANTHROPIC_BASE_URL": "http://127.0.0.1:7373"');
    expect(hideCredentials(`api_key = "${SECRET}"`)).toBe('api_key = "…hidden…"');
    expect(hideCredentials(`    apiKey: ${SECRET}`)).toBe('    apiKey: …hidden…');
  });

  it('keep references to where a credential comes from', () => {
    for (const line of ['env_key = "SKILLBOSS_API_KEY"', '"apiKey": "{env:SKILLBOSS_API_KEY}"', 'apiKey: ${SKILLBOSS_API_KEY}']) {
      expect(hideCredentials(line)).toBe(line);
    }
  });
});
