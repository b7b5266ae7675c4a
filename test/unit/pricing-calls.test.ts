/**
 * Billed units of per-call requests (issue 17 item 4): `n` images, large and
 * high-quality images, from JSON and from multipart form fields; values the
 * sidecar cannot count are refused, never taken as one call.
 */
import { describe, expect, it } from 'vitest';
import { SidecarError } from '../../proxy/core/errors.js';
import { callUnits, multipartFields } from '../../proxy/pricing/calls.js';

const gen = (body: Record<string, unknown>) => callUnits('/v1/images/generations', body, Buffer.alloc(0), 'application/json');

function form(boundary: string, fields: Array<[string, string, string?]>): Buffer {
  const parts = fields.map(([name, value, filename]) =>
    Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"\r\nContent-Type: image/png` : ''}\r\n\r\n`),
      Buffer.from(value, 'latin1'),
      Buffer.from('\r\n'),
    ]),
  );
  return Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]);
}

describe('callUnits', () => {
  it('counts n images, and large or high-quality ones twice', () => {
    expect(gen({ prompt: 'x' }).units).toBe(1);
    expect(gen({ prompt: 'x', n: 10 }).units).toBe(10);
    expect(gen({ prompt: 'x', n: 3, size: '1792x1024' }).units).toBe(6);
    expect(gen({ prompt: 'x', n: 2, quality: 'hd', size: '1024x1024' }).units).toBe(4);
    expect(gen({ prompt: 'x', size: 'auto', quality: 'ultra' }).units).toBe(4);
  });

  it('refuses an n it cannot count rather than reserving one call', () => {
    for (const n of ['10', 11, 0, 2.5, 1e9, true]) {
      let err: unknown;
      try {
        gen({ prompt: 'x', n });
      } catch (e) {
        err = e;
      }
      expect(err, `n = ${JSON.stringify(n)}`).toBeInstanceOf(SidecarError);
      expect((err as SidecarError).status).toBe(400);
    }
  });

  it('is one call for routes without a multiplier', () => {
    expect(callUnits('/v1/audio/speech', { input: 'x'.repeat(4000), n: 50 }, Buffer.alloc(0), 'application/json').units).toBe(1);
    expect(callUnits('/v1/services/email', { n: 50 }, Buffer.alloc(0), 'application/json').units).toBe(1);
  });

  it('reads n, size and quality from a multipart image edit, skipping the file', () => {
    const body = form('XyZ', [
      ['image', 'PNG\r\n\r\n--name="n"\r\n\r\n1\r\n', 'a.png'],
      ['prompt', 'add a hat'],
      ['n', '4'],
      ['size', '1536x1024'],
    ]);
    expect(multipartFields(body, 'multipart/form-data; boundary=XyZ', ['n', 'size', 'quality'])).toEqual({ n: '4', size: '1536x1024' });
    expect(callUnits('/v1/images/edits', undefined, body, 'multipart/form-data; boundary=XyZ').units).toBe(8);
    const twice = form('b', [['n', '1'], ['n', '9']]);
    expect(() => callUnits('/v1/images/edits', undefined, twice, 'multipart/form-data; boundary=b')).toThrow(/more than once/);
    expect(() => callUnits('/v1/images/edits', undefined, form('b', [['n', '12']]), 'multipart/form-data; boundary=b')).toThrow(SidecarError);
  });
});
