/**
 * agents.test.ts, whole, against the real SkillBoss dialect (issue 23): the proxy path (the openai SDK, refusals, upstream failures)
 * must hold whichever way SkillBoss answers.
 */
import { expect, it } from 'vitest';
import { currentSuiteDialect, runSuiteAgainst } from '../helpers/stack.js';

runSuiteAgainst('real');
it('starts its stacks against the real dialect', () => expect(currentSuiteDialect()).toBe('real'));
await import('./agents.test.js');
