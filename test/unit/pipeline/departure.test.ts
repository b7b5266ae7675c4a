/**
 * The forward's Departure: the client's leaving with AbortSignal's contract (what the upstream client and the
 * relay rely on) and without its EventTarget.
 */
import { describe, expect, it } from 'vitest';
import { Departure } from '../../../proxy/pipeline/forward.js';

describe('Departure', () => {
  it('calls each listener once, in order, and says it is aborted from then on', () => {
    const d = new Departure();
    const heard: string[] = [];
    d.addEventListener('abort', () => heard.push('a'));
    d.addEventListener('abort', () => heard.push('b'), { once: true });
    expect(d.aborted).toBe(false);
    d.abort();
    d.abort();
    expect(heard).toEqual(['a', 'b']);
    expect(d.aborted).toBe(true);
  });

  it('never calls a listener removed before the abort, nor one added after it', () => {
    const d = new Departure();
    const heard: string[] = [];
    const removed = () => heard.push('removed');
    d.addEventListener('abort', removed);
    d.addEventListener('abort', () => heard.push('kept'));
    d.removeEventListener('abort', removed);
    d.abort();
    d.addEventListener('abort', () => heard.push('late'));
    expect(heard).toEqual(['kept']);
  });

  it('skips a listener another removed before its turn, as AbortSignal does, and still calls the rest', () => {
    const d = new Departure();
    const heard: string[] = [];
    const second = () => heard.push('second');
    d.addEventListener('abort', () => {
      heard.push('first');
      d.removeEventListener('abort', second);
    });
    d.addEventListener('abort', second);
    d.addEventListener('abort', () => heard.push('third'));
    d.abort();
    expect(heard).toEqual(['first', 'third']);
  });
});
