/**
 * The model allowlist's pattern rule (wire/allowlist.ts): what a pattern matches, what is refused as
 * one, and when a child's pattern is within a parent's.
 */
import { describe, expect, it } from 'vitest';
import { coveredBy, listAllows, MAX_MODEL_PATTERNS, modelMatches, outsideOf, parseModelList, parseModelPattern } from '../../../wire/allowlist.js';
import { checkChildRules, childModels, refusingModelList } from '../../../proxy/tokens/rules.js';
import { fakeToken } from '../../helpers/token.js';

describe('model patterns', () => {
  it('an exact id matches itself only; a trailing * takes the rest, / included; any other * stays in its segment', () => {
    expect(modelMatches('openai/gpt-5', 'openai/gpt-5')).toBe(true);
    expect(modelMatches('openai/gpt-5', 'openai/gpt-5-mini')).toBe(false);
    expect(modelMatches('openai/gpt-5', 'OpenAI/gpt-5')).toBe(false);
    expect(modelMatches('replicate/*', 'replicate/black-forest-labs/flux-schnell')).toBe(true);
    expect(modelMatches('replicate/*', 'replicate')).toBe(false);
    expect(modelMatches('replicate/*', 'replicated/x')).toBe(false);
    expect(modelMatches('bedrock/claude-*', 'bedrock/claude-4-5-sonnet')).toBe(true);
    expect(modelMatches('bedrock/claude-*', 'claude-4-5-sonnet')).toBe(false);
    expect(modelMatches('*/gpt-5', 'openai/gpt-5')).toBe(true);
    expect(modelMatches('*/gpt-5', 'a/b/gpt-5')).toBe(false);
    expect(modelMatches('openai/gpt-*-mini', 'openai/gpt-5-mini')).toBe(true);
    expect(modelMatches('openai/gpt-*-mini', 'openai/gpt-5/x-mini')).toBe(false);
    // The dots of an id are literal, not "any character".
    expect(modelMatches('claude-4.5-sonnet', 'claude-4x5-sonnet')).toBe(false);
    expect(listAllows(['gemini/*', 'gpt-4o-mini'], 'gpt-4o-mini')).toBe(true);
    expect(listAllows(['gemini/*', 'gpt-4o-mini'], 'gpt-4o')).toBe(false);
  });

  it('refuses what is not a pattern, and a list that is empty, too long or not strings', () => {
    for (const bad of ['', ' ', 'a//b', '/a', 'a/', 'gemini/**', 'a b', 'a?b', 'x'.repeat(129), 'ü/x']) expect(parseModelPattern(bad).ok).toBe(false);
    for (const good of ['*', 'gpt-4o-mini', 'gamma/start_generation', 'mm/img', 'a:b@c+d=e~f.g']) expect(parseModelPattern(good)).toEqual({ ok: true, value: good });
    expect(parseModelList([])).toMatchObject({ ok: false, error: expect.stringContaining('empty') });
    expect(parseModelList(Array.from({ length: MAX_MODEL_PATTERNS + 1 }, (_, i) => `v${i}/*`))).toMatchObject({ ok: false, error: expect.stringContaining(`at most ${MAX_MODEL_PATTERNS}`) });
    expect(parseModelList([1])).toMatchObject({ ok: false });
    expect(parseModelList(' gemini/* , replicate/*,gemini/*, ')).toEqual({ ok: true, value: ['gemini/*', 'replicate/*'] });
    expect(parseModelList(['gemini/*', ''])).toMatchObject({ ok: false });
  });

  it('a child pattern is within a parent pattern only when every id it matches, the parent matches', () => {
    const yes: Array<[string, string]> = [
      ['replicate/black-forest-labs/*', 'replicate/*'],
      ['replicate/*', 'replicate/*'],
      ['replicate/x', 'replicate/*'],
      ['bedrock/claude-4-5-sonnet', 'bedrock/claude-*'],
      ['openai/gpt-*-mini', 'openai/*'],
      ['openai/gpt-*-mini', 'openai/gpt-*'],
      ['*/gpt-5', '*/gpt-*'],
      ['anything/at/all', '*'],
      ['gemini/*', '*'],
    ];
    const no: Array<[string, string]> = [
      ['gemini/*', 'replicate/*'],
      ['replicate/*', 'replicate/black-forest-labs/*'],
      ['bedrock/*', 'bedrock/claude-*'],
      ['gpt-*', 'gpt-4o-mini'],
      // A trailing * crosses /, a segment * does not: the child would reach openai/gpt-5/x.
      ['openai/gpt-*', 'openai/gpt-*-x'],
      ['openai/*', '*/gpt-5'],
      ['*', 'gemini/*'],
    ];
    for (const [c, p] of yes) expect([c, p, coveredBy(c, p)]).toEqual([c, p, true]);
    for (const [c, p] of no) expect([c, p, coveredBy(c, p)]).toEqual([c, p, false]);
    expect(outsideOf(['replicate/a/*', 'gemini/*'], ['replicate/*'])).toEqual(['gemini/*']);
  });
});

describe('model lists down the tree', () => {
  const root = fakeToken('tok_root', { models: ['replicate/*', 'gpt-4o-mini'], scopes: ['models:use'] });
  const mid = fakeToken('tok_mid', { parentId: 'tok_root', depth: 1, models: ['replicate/*'], scopes: ['models:use'] });

  it('a child asking for models outside any ancestor\'s list is a 403 naming the patterns and the list', () => {
    expect(() => checkChildRules([mid, root], { scopes: ['models:use'], budget: null, expiresAt: null, models: ['gpt-4o-mini'] })).toThrow(/gpt-4o-mini is outside the parent's list \(replicate\/\*\)/);
    expect(() => checkChildRules([mid, root], { scopes: ['models:use'], budget: null, expiresAt: null, models: ['replicate/x/*'] })).not.toThrow();
    // Not given (a budget edit): not checked.
    expect(() => checkChildRules([mid, root], { scopes: ['models:use'], budget: null, expiresAt: null })).not.toThrow();
  });

  it('a child without a list inherits the nearest restricted ancestor\'s; the whole chain is checked per call', () => {
    expect(childModels([mid, root], null)).toEqual(['replicate/*']);
    expect(childModels([fakeToken('tok_free')], null)).toBeNull();
    const kid = fakeToken('tok_kid', { models: ['gpt-4o-mini'] });
    // The kid's own list allows it, but its ancestor's (narrowed later) does not.
    expect(refusingModelList([kid, mid, root], 'gpt-4o-mini')?.id).toBe('tok_mid');
    expect(refusingModelList([kid, mid, root], 'replicate/x')?.id).toBe('tok_kid');
    expect(refusingModelList([fakeToken('tok_free')], 'anything')).toBeNull();
  });
});
