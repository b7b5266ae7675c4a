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
 * fields: the parts are found with Buffer.indexOf (native), no file is copied.
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
  // Form fields arrive as text; in JSON it must be a number (an upstream that coerced "10" would bill 10 calls).
  const n = fromForm && typeof v === 'string' && /^\d{1,3}$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_IMAGES) {
    throw badRequest('invalid_request', `Invalid request body: n: must be an integer from 1 to ${MAX_IMAGES}.`, { n: `must be an integer from 1 to ${MAX_IMAGES}` });
  }
  return n;
}

/** Pixels over 1024×1024, rounded up; "auto" and unknown sizes count as the largest the upstream makes. */
function sizeFactor(v: unknown): number {
  if (v === undefined || v === null) return 1;
  const m = typeof v === 'string' ? /^(\d{2,5})x(\d{2,5})$/.exec(v.trim()) : null;
  if (!m) return Math.ceil((1792 * 1024) / BASE_PIXELS);
  return Math.max(1, Math.ceil((Number(m[1]) * Number(m[2])) / BASE_PIXELS));
}

function qualityFactor(v: unknown): number {
  if (v === undefined || v === null) return 1;
  return (typeof v === 'string' && QUALITY_FACTOR[v.trim().toLowerCase()]) || MAX_QUALITY_FACTOR;
}

/**
 * The named small text fields of a multipart/form-data body. Parts with a
 * filename (the image itself) are skipped; a field's value is read only when
 * it is short, as n, size and quality are.
 */
export function multipartFields(raw: Buffer, contentType: string | undefined, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const m = contentType ? /boundary=(?:"([^"]{1,70})"|([^;\s]{1,70}))/i.exec(contentType) : null;
  if (!m || raw.length === 0) return out;
  const delimiter = Buffer.from(`--${m[1] ?? m[2]}`);
  let at = raw.indexOf(delimiter);
  while (at !== -1) {
    const headStart = at + delimiter.length + 2;
    const headEnd = raw.indexOf('\r\n\r\n', headStart);
    if (headEnd === -1) break;
    const next = raw.indexOf(delimiter, headEnd + 4);
    if (next === -1) break;
    // Part headers are a few hundred bytes; anything longer is not one of the fields looked for.
    if (headEnd - headStart <= 1024) {
      const head = raw.toString('latin1', headStart, headEnd);
      // Quoted or bare, as form parsers accept both.
      const nm = /;\s*name=(?:"([^"]{1,40})"|([^;\s"]{1,40}))/i.exec(head);
      const name = nm?.[1] ?? nm?.[2];
      if (name && names.includes(name) && !/filename\*?=/i.test(head)) {
        // Sent twice, the upstream may take either: refused rather than guessed.
        if (name in out) throw badRequest('invalid_request', `Invalid request body: ${name}: sent more than once.`, { [name]: 'sent more than once' });
        out[name] = next - (headEnd + 4) <= 64 ? raw.toString('utf8', headEnd + 4, next - 2) : 'too long';
      }
    }
    at = next;
  }
  return out;
}
