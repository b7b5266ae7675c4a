/**
 * A strict parser for the Prometheus text exposition format 0.0.4, for tests
 * (no parser package is installed). It throws on anything a Prometheus server
 * would reject or that the format forbids: bad names, bad escapes, unparsable
 * values, TYPE after samples, a family split in two, duplicate series,
 * histograms whose buckets decrease or whose +Inf bucket differs from _count.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string | null;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function fail(lineNo: number, line: string, why: string): never {
  throw new Error(`line ${lineNo}: ${why}: ${JSON.stringify(line)}`);
}

function parseValue(s: string, lineNo: number, line: string): number {
  // As Go's strconv.ParseFloat, which Prometheus uses: NaN and Inf in any letter case.
  if (/^nan$/i.test(s)) return Number.NaN;
  const inf = /^([+-]?)inf(inity)?$/i.exec(s);
  if (inf) return inf[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) fail(lineNo, line, `bad value ${s}`);
  return Number(s);
}

/** Which family a sample belongs to (histogram and summary samples carry suffixes). */
function familyOf(sample: string, families: Map<string, Family>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sample.endsWith(suffix)) {
      const base = sample.slice(0, -suffix.length);
      const f = families.get(base);
      if (f && (f.type === 'histogram' || f.type === 'summary')) return base;
    }
  }
  return sample;
}

function parseLabels(body: string, lineNo: number, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const eq = body.indexOf('=', i);
    if (eq < 0) fail(lineNo, line, 'label without =');
    const name = body.slice(i, eq).trim();
    if (!LABEL_NAME.test(name)) fail(lineNo, line, `bad label name ${name}`);
    if (body[eq + 1] !== '"') fail(lineNo, line, 'label value not quoted');
    let j = eq + 2;
    let value = '';
    for (;;) {
      const c = body[j];
      if (c === undefined) fail(lineNo, line, 'unterminated label value');
      if (c === '"') break;
      if (c === '\\') {
        const n = body[j + 1];
        if (n === '\\') value += '\\';
        else if (n === '"') value += '"';
        else if (n === 'n') value += '\n';
        else fail(lineNo, line, `bad escape \\${n}`);
        j += 2;
      } else {
        value += c;
        j++;
      }
    }
    if (name in labels) fail(lineNo, line, `label ${name} twice`);
    labels[name] = value;
    i = j + 1;
    if (body[i] === ',') i++;
    else if (i < body.length) fail(lineNo, line, 'expected , between labels');
  }
  return labels;
}

export function parsePrometheusText(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map<string, Family>();
  const seenSeries = new Set<string>();
  const closed = new Set<string>();
  let current: string | null = null;
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, idx) => {
    const lineNo = idx + 1;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // an ordinary comment
      const [, kind, name, rest] = m as unknown as [string, 'HELP' | 'TYPE', string, string];
      if (!METRIC_NAME.test(name)) fail(lineNo, line, `bad metric name ${name}`);
      const f = families.get(name) ?? { name, type: 'untyped' as MetricType, help: null, samples: [] };
      if (f.samples.length > 0) fail(lineNo, line, `${kind} after samples of ${name}`);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest as MetricType)) fail(lineNo, line, `unknown type ${rest}`);
        f.type = rest as MetricType;
      } else {
        if (f.help !== null) fail(lineNo, line, `HELP twice for ${name}`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) fail(lineNo, line, 'bad escape in HELP');
        f.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      }
      families.set(name, f);
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    if (!m) fail(lineNo, line, 'not a sample line');
    const [, name, , labelBody, rawValue] = m as unknown as [string, string, string | undefined, string | undefined, string];
    const labels = labelBody ? parseLabels(labelBody, lineNo, line) : {};
    const value = parseValue(rawValue, lineNo, line);
    const fam = familyOf(name, families);
    if (fam !== current) {
      if (current) closed.add(current);
      if (closed.has(fam)) fail(lineNo, line, `samples of ${fam} are not contiguous`);
      current = fam;
    }
    const f = families.get(fam) ?? { name: fam, type: 'untyped' as MetricType, help: null, samples: [] };
    families.set(fam, f);
    const key = `${name}{${Object.entries(labels).sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
    if (seenSeries.has(key)) fail(lineNo, line, `duplicate series ${key}`);
    seenSeries.add(key);
    if (f.type === 'counter' && !(value >= 0)) fail(lineNo, line, 'negative counter');
    if (f.type === 'histogram' && name.endsWith('_bucket') && labels.le === undefined) fail(lineNo, line, 'bucket without le');
    f.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name === `${f.name}_bucket`) g.buckets.push([le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), s.value]);
    else if (s.name === `${f.name}_count`) g.count = s.value;
  }
  for (const [key, g] of groups) {
    const sorted = [...g.buckets].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) if (sorted[i]![1] < sorted[i - 1]![1]) throw new Error(`${f.name}${key}: buckets decrease`);
    const inf = sorted.at(-1);
    if (!inf || inf[0] !== Number.POSITIVE_INFINITY) throw new Error(`${f.name}${key}: no +Inf bucket`);
    if (inf[1] !== g.count) throw new Error(`${f.name}${key}: +Inf bucket ${inf[1]} != _count ${g.count}`);
  }
}

/** The value of one series, or undefined; `labels` must match exactly the given subset. */
export function valueOf(families: Map<string, Family>, sample: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}
