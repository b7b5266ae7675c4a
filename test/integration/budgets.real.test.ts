/**
 * budgets.test.ts, whole, against the real SkillBoss dialect (issue 23): budget enforcement (concurrency, bypass attempts, the 402, GET /v1/balance)
 * must hold whichever way SkillBoss answers.
 */
import { expect, it } from 'vitest';
import { currentSuiteDialect, runSuiteAgainst } from '../helpers/stack.js';

runSuiteAgainst('real');
it('starts its stacks against the real dialect', () => expect(currentSuiteDialect()).toBe('real'));
await import('./budgets.test.js');
