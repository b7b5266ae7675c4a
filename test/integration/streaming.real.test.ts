/**
 * streaming.test.ts, whole, against the real SkillBoss dialect (issue 23): metered streams (the usage chunk, streams that do not finish)
 * must hold whichever way SkillBoss answers.
 */
import { expect, it } from 'vitest';
import { currentSuiteDialect, runSuiteAgainst } from '../helpers/stack.js';

runSuiteAgainst('real');
it('starts its stacks against the real dialect', () => expect(currentSuiteDialect()).toBe('real'));
await import('./streaming.test.js');
