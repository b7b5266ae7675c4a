/** The one SSE framer (proxy/core/sse.ts): whole events out, however the bytes were split and whatever the line ends. */
import { describe, expect, it } from 'vitest';
import { dataOf, SseFramer } from '../../../proxy/core/sse.js';

function frame(chunks: Array<string | Buffer>): string[] {
  const f = new SseFramer();
  const out: string[] = [];
  for (const c of chunks) out.push(...f.push(typeof c === 'string' ? Buffer.from(c) : c));
  return [...out, ...f.end()];
}

describe('SseFramer', () => {
  it('gives whole events with LF line ends, whether lines end in LF, CRLF or CR, split anywhere', () => {
    const text = 'event: a\r\ndata: 1\r\n\r\ndata: 2\r\rdata: 3\n\n';
    const whole = frame([text]);
    expect(whole).toEqual(['event: a\ndata: 1', 'data: 2', 'data: 3']);
    // Split between every byte, including inside each CRLF.
    expect(frame([...text].map((c) => c))).toEqual(whole);
  });

  it('waits for an event to be complete, and keeps a character split across chunks whole', () => {
    const f = new SseFramer();
    const bytes = Buffer.from('data: é\n\n');
    expect(f.push(bytes.subarray(0, 7))).toEqual([]);
    expect(f.push(bytes.subarray(7))).toEqual(['data: é']);
  });

  it('ends with an unterminated last event, and nothing for a blank tail', () => {
    expect(frame(['data: 1\n\ndata: 2'])).toEqual(['data: 1', 'data: 2']);
    expect(frame(['data: 1\n\n  \n'])).toEqual(['data: 1']);
    expect(frame(['data: 1\r'])).toEqual(['data: 1']);
  });

  it('reads the data of an event: its data lines joined, null without any', () => {
    expect(dataOf('event: x\ndata: a\ndata:b')).toBe('a\nb');
    expect(dataOf(': comment')).toBeNull();
  });
});
