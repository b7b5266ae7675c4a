/**
 * How many billed units a per-call request is (issue 17 item 4). An image
 * request for `n` images is `n` calls upstream, and a large or high-quality
 * image is billed as several; the sidecar reserves (and, when the upstream
 * reports no cost, charges) the call price times these units, so `n: 10` on a
 * $0.05 token is refused before it goes upstream instead of costing $0.40.
 *
 * The fields are validated here as the upstream reads them: a value the
 * sidecar cannot count (`"n": "10"`, `n: 1e9`, an unknown quality) is refused
 * with 400 or counted at its most expensive, never as one call.
 *
 * Multipart bodies (image edits) are read only as far as their small form
 * fields: the parts are found with Buffer.indexOf (native), no file is copied,
 * and a priced field that parsers could read differently is refused (issue 25).
 */
import { badRequest } from '../core/errors.js';

/** OpenAI's (and SkillBoss's) upper bound for `n` on the image routes. */
export const MAX_IMAGES = 10;
/** The size one call is priced at; larger images count as this many pixels' worth each. */
const BASE_PIXELS = 1024 * 1024;
/** Qualities billed as more than one call, and how much more (unknown values count at the highest). */
const QUALITY_FACTOR: Record<string, number> = { standard: 1, low: 1, medium: 1, auto: 2, hd: 2, high: 2 };
const MAX_QUALITY_FACTOR = 2;

export interface CallUnits {
  units: number;
}

type Fields = Record<string, unknown>;

/** Billed units of a per-call route's body; 1 for anything without a multiplier (speech, services). */
export function callUnits(path: string, json: Fields | undefined, raw: Buffer, contentType: string | undefined): CallUnits {
  if (!path.startsWith('/v1/images/')) return { units: 1 };
  const fields = json ?? multipartFields(raw, contentType, ['n', 'size', 'quality']);
  const n = imageCount(fields.n, json === undefined);
  const size = sizeFactor(fields.size);
  const quality = qualityFactor(fields.quality);
  return { units: n * size * quality };
}

function imageCount(v: unknown, fromForm: boolean): number {
  if (v === undefined || v === null) return 1;
  // Form fields arrive as text, read as the upstream reads them: digits only (" 10" is not normalised to 10,
  // since an upstream that reads it otherwise would bill what was not priced). In JSON it must be a number.
  const n = fromForm && typeof v === 'string' && /^\d{1,3}$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_IMAGES) {
    throw badRequest('invalid_request', `Invalid request body: n: must be an integer from 1 to ${MAX_IMAGES}.`, { n: `must be an integer from 1 to ${MAX_IMAGES}` });
  }
  return n;
}

/**
 * Pixels over 1024×1024, rounded up; "auto" and anything not written exactly as a size (" 1024x1024",
 * "1024X1024", "01024x1024") count as the largest the upstream makes: an upstream may bill those as large.
 */
function sizeFactor(v: unknown): number {
  if (v === undefined || v === null) return 1;
  const m = typeof v === 'string' ? /^([1-9]\d{1,4})x([1-9]\d{1,4})$/.exec(v) : null;
  if (!m) return Math.ceil((1792 * 1024) / BASE_PIXELS);
  return Math.max(1, Math.ceil((Number(m[1]) * Number(m[2])) / BASE_PIXELS));
}

/** A quality as written; one the table does not hold exactly (" hd", "HD") counts at the highest. */
function qualityFactor(v: unknown): number {
  if (v === undefined || v === null) return 1;
  return (typeof v === 'string' && Object.hasOwn(QUALITY_FACTOR, v) && QUALITY_FACTOR[v]) || MAX_QUALITY_FACTOR;
}

/** Most bytes of one part's headers: busboy's limit (a part with more is malformed to it, so refused here). */
const MAX_PART_HEADER_BYTES = 16 * 1024;
/** A priced field's value is a few bytes; a longer one is kept as this (refused for n, the largest size or quality). */
const MAX_FIELD_BYTES = 64;

function malformed(why: string): never {
  throw badRequest('invalid_multipart', `The multipart body cannot be read unambiguously: ${why}. Send each form field once, as plain text.`);
}

/** The boundary of a multipart/form-data content type; null for any other type. */
function boundaryOf(contentType: string | undefined): string | null {
  if (!contentType || !/^\s*multipart\/form-data\s*(;|$)/i.test(contentType)) return null;
  const m = /;\s*boundary=(?:"([^"\r\n]{1,70})"|([0-9A-Za-z'()+_,\-./:=?]{1,70}))\s*(;|$)/i.exec(contentType);
  if (!m) malformed('the Content-Type names no valid boundary');
  return m[1] ?? m[2]!;
}

/** Content-Disposition parameters (RFC 7578 as form parsers read them: tokens or quoted strings with backslash escapes). */
function dispositionOf(value: string): { type: string; params: Map<string, string> } {
  const m = /^\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*/.exec(value);
  if (!m) malformed('a part has an unreadable Content-Disposition');
  const params = new Map<string, string>();
  let rest = value.slice(m[0].length);
  while (rest.length > 0) {
    const p = /^;\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s"]*))\s*/.exec(rest);
    if (!p) malformed('a part has an unreadable Content-Disposition');
    const key = p[1]!.toLowerCase();
    if (params.has(key)) malformed(`a part names its ${key} twice`);
    params.set(key, p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!);
    rest = rest.slice(p[0].length);
  }
  return { type: m[1]!.toLowerCase(), params };
}

/**
 * The named small text fields of a multipart/form-data body, read by the
 * rules form parsers (busboy, python-multipart) apply: a delimiter is CRLF
 * `--boundary` (the first may open the body), a part's headers run to the
 * first empty line, whatever their length up to busboy's 16 KiB, and its
 * value to the next delimiter. Parts with a filename (the image) are skipped
 * without copying. Whatever two parsers could read differently is refused
 * when it touches a priced field: a field sent twice, headers folded over
 * lines, a second Content-Disposition, an extended `name*`, a transfer
 * encoding, a body that ends inside a part.
 */
export function multipartFields(raw: Buffer, contentType: string | undefined, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const boundary = boundaryOf(contentType);
  if (boundary === null || raw.length === 0) return out;
  const delim = Buffer.from(`\r\n--${boundary}`);
  // The first delimiter may open the body (no CRLF before it); what comes before one is a preamble.
  let at = raw.subarray(0, delim.length - 2).equals(delim.subarray(2)) ? -2 : raw.indexOf(delim);
  if (at === -1) malformed('it has no part boundary');
  for (;;) {
    let p = at + delim.length;
    if (raw[p] === 0x2d && raw[p + 1] === 0x2d) return out;
    while (raw[p] === 0x20 || raw[p] === 0x09) p++;
    if (raw[p] !== 0x0d || raw[p + 1] !== 0x0a) malformed('a boundary is not followed by a line end');
    const headStart = p + 2;
    const empty = raw[headStart] === 0x0d && raw[headStart + 1] === 0x0a;
    const headEnd = empty ? headStart : raw.indexOf('\r\n\r\n', headStart);
    if (headEnd === -1 || headEnd - headStart > MAX_PART_HEADER_BYTES) malformed(`a part's headers are longer than ${MAX_PART_HEADER_BYTES} bytes or do not end`);
    const valueStart = empty ? headStart + 2 : headEnd + 4;
    const next = raw.indexOf(delim, valueStart);
    if (next === -1) malformed('it ends inside a part');
    const field = partField(raw.toString('latin1', headStart, headEnd), names);
    if (field !== null) {
      if (field in out) malformed(`${field} is sent more than once`);
      out[field] = next - valueStart <= MAX_FIELD_BYTES ? raw.toString('utf8', valueStart, next) : 'too long';
    }
    at = next;
  }
}

/** The name of a priced text field this part carries, or null (a file, another field); refuses what is ambiguous. */
function partField(head: string, names: readonly string[]): string | null {
  let disposition: string | null = null;
  let encoding: string | null = null;
  for (const line of head === '' ? [] : head.split('\r\n')) {
    if (line.startsWith(' ') || line.startsWith('\t')) malformed('a part header is folded over two lines');
    const colon = line.indexOf(':');
    if (colon <= 0) malformed('a part header has no name');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1);
    if (name === 'content-disposition') {
      if (disposition !== null) malformed('a part has two Content-Disposition headers');
      disposition = value;
    } else if (name === 'content-transfer-encoding') encoding = value.trim().toLowerCase();
  }
  if (disposition === null) return null;
  const d = dispositionOf(disposition);
  const name = d.params.get('name');
  const priced = (name !== undefined && names.includes(name)) || (d.params.has('name*') && names.length > 0);
  if (!priced) return null;
  if (d.params.has('name*')) malformed('a part names itself with name*');
  if (d.type !== 'form-data') malformed(`the ${name} part is not form-data`);
  if (d.params.has('filename') || d.params.has('filename*')) malformed(`the ${name} field is sent as a file`);
  if (encoding !== null && encoding !== '7bit' && encoding !== '8bit' && encoding !== 'binary') malformed(`the ${name} field has a transfer encoding`);
  return name!;
}
