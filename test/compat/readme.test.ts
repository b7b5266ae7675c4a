/**
 * The copy-paste recipes in the docs are the ones the suite runs: every file
 * in docs/recipes/ is executed by a compat test, and appears verbatim (as a
 * fenced code block) in docs/connect-your-agent.md and in README.md.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { recipeNames, recipeText } from './recipes.js';

const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const compatTests = readdirSync(root('test/compat'))
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => readFileSync(root(`test/compat/${f}`), 'utf8'))
  .join('\n');

/** The bodies of the fenced code blocks of a Markdown text. */
function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```[a-z]*\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

describe('recipes', () => {
  const names = recipeNames();

  it('there are recipes for every client', () => {
    expect(names).toEqual(expect.arrayContaining(['openai-sdk.mjs', 'vercel-ai-sdk.mjs', 'langchain.mjs', 'requests-chat.py', 'requests-models.py', 'curl-stream.sh', 'shell-env.sh']));
  });

  it.each(names)('%s is run by a compat test', (name) => {
    expect(compatTests).toContain(`'${name}'`);
  });

  for (const doc of ['docs/connect-your-agent.md', 'README.md']) {
    it.each(names)(`%s appears verbatim in ${doc}`, (name) => {
      const blocks = codeBlocks(readFileSync(root(doc), 'utf8'));
      expect(blocks, `${doc} must show docs/recipes/${name} exactly as the suite runs it (paste the section from docs/connect-your-agent.md)`).toContain(recipeText(name));
    });
  }
});
