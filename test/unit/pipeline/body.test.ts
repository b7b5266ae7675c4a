/**
 * Stage 4, body, on its own: the size limit (declared and actual), JSON
 * routes' content type and shape, the nesting limit checked before parsing,
 * and routes that take anything or nothing.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { SidecarError } from '../../../proxy/core/errors.js';
import { nestedDeeperThan, readBody } from '../../../proxy/pipeline/body.js';

/** A request as the stage sees it: a readable body and its headers. */
function request(body: string | Buffer | string[], headers: Record<string, string> = { 'content-type': 'application/json' }): IncomingMessage {
  const chunks = Array.isArray(body) ? body.map((c) => Buffer.from(c)) : [Buffer.from(body)];
  return Object.assign(Readable.from(chunks), { headers }) as unknown as IncomingMessage;
}

async function refused(p: Promise<unknown>): Promise<SidecarError> {
  return p.then(
    () => {
      throw new Error('expected a refusal');
    },
    (err: SidecarError) => err,
  );
}

describe('readBody', () => {
  it('parses a JSON object sent in several chunks, and keeps the raw bytes to forward', async () => {
    const b = await readBody(request(['{"model":', '"m","n":2}']), 'json', 1024);
    expect(b.json).toEqual({ model: 'm', n: 2 });
    expect(b.raw.toString()).toBe('{"model":"m","n":2}');
  });

  it('reads a large declared body whole, also past the part read into one preallocated buffer', async () => {
    for (const size of [100 * 1024, 9 * 1024 * 1024]) {
      const text = `{"a":"${'x'.repeat(size)}"}`;
      const parts = text.match(/[\s\S]{1,65536}/g)!;
      const b = await readBody(request(parts, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }), 'any', 16 * 1024 * 1024);
      expect(b.raw.length).toBe(Buffer.byteLength(text));
      expect(b.raw.equals(Buffer.from(text))).toBe(true);
    }
  });

  it('refuses a body over the limit with 413, whether declared or only sent', async () => {
    const declared = await refused(readBody(request('{}', { 'content-type': 'application/json', 'content-length': '2000' }), 'json', 1000));
    expect([declared.status, declared.code]).toEqual([413, 'body_too_large']);
    const sent = await refused(readBody(request(['{"a":"', 'x'.repeat(600), 'y'.repeat(600), '"}']), 'json', 1000));
    expect([sent.status, sent.code]).toEqual([413, 'body_too_large']);
  });

  it('refuses what a JSON route cannot take, each with its own code', async () => {
    expect((await refused(readBody(request(''), 'json', 1000))).code).toBe('missing_body');
    expect((await refused(readBody(request('{}', { 'content-type': 'text/plain' }), 'json', 1000))).code).toBe('unsupported_content_type');
    expect((await refused(readBody(request('{"a":'), 'json', 1000))).code).toBe('invalid_json');
    expect((await refused(readBody(request('[1,2]'), 'json', 1000))).code).toBe('invalid_json');
    expect((await refused(readBody(request('null'), 'json', 1000))).code).toBe('invalid_json');
  });

  it('accepts a +json media type with parameters', async () => {
    const b = await readBody(request('{"a":1}', { 'content-type': 'application/vnd.x+json; charset=utf-8' }), 'json', 1000);
    expect(b.json).toEqual({ a: 1 });
  });

  it('refuses nesting past the limit before parsing, with 400', async () => {
    const deep = `${'['.repeat(10)}${']'.repeat(10)}`;
    const e = await refused(readBody(request(`{"a":${deep}}`), 'json', 1000, 8));
    expect([e.status, e.code]).toEqual([400, 'invalid_json']);
    expect(e.message).toContain('8 levels');
  });

  it('passes any body through on an `any` route, parsing it only when it is JSON', async () => {
    const bytes = Buffer.from([0, 1, 2, 255]);
    const opaque = await readBody(request(bytes, { 'content-type': 'multipart/form-data; boundary=x' }), 'any', 1000);
    expect(opaque.json).toBeUndefined();
    expect(opaque.raw.equals(bytes)).toBe(true);
    expect((await readBody(request('{"a":1}'), 'any', 1000)).json).toEqual({ a: 1 });
  });

  it('reads no body on a `none` route, but drains one that was sent (still within the limit)', async () => {
    expect((await readBody(request('ignored', {}), 'none', 1000)).raw.length).toBe(0);
    expect((await readBody(request('drained', { 'content-length': '7' }), 'none', 1000)).raw.length).toBe(0);
    expect((await refused(readBody(request('x'.repeat(20), { 'content-length': '20' }), 'none', 10))).status).toBe(413);
  });
});

describe('nestedDeeperThan', () => {
  it('counts brackets outside strings only, escaped quotes included', () => {
    expect(nestedDeeperThan(Buffer.from('[[["[[[[[["]]]'), 3)).toBe(false);
    expect(nestedDeeperThan(Buffer.from('{"a":"\\"[[[[","b":[[[[]]]]}'), 3)).toBe(true);
    expect(nestedDeeperThan(Buffer.from('{"a":"\\"[[[[","b":[[[]]]}'), 4)).toBe(false);
  });
});
