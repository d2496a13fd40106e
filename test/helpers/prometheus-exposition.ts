/**
 * A small, strict parser of the Prometheus text exposition format (0.0.4), for tests that scrape
 * `/metrics`: they read series, not grep text. It refuses what a Prometheus server would refuse,
 * and a little more: a sample before its family's `# TYPE`, a family typed twice or split, a
 * repeated series, a repeated or malformed label, a bad escape, a value that is not a number.
 * (prom-client renders but does not parse; no parser on npm is small and strict enough to be
 * worth a dependency.)
 *
 * @example
 * const families = parseExposition(await (await fetch(`${url}/metrics`)).text());
 * families.get('signalbus_metric_fields_total')!.samples.filter((s) => s.labels.service === 'filter');
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's name: the family's, or with `_bucket`, `_sum`, `_count` for histograms and summaries. */
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help?: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];
const SUFFIXES: Record<MetricType, readonly string[]> = {
  counter: [''], gauge: [''], untyped: [''], histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'],
};

export class ExpositionError extends Error {
  constructor(readonly line: number, message: string) { super(`line ${line}: ${message}`); }
}

/** Parses a whole exposition into its families, by name, in order of appearance. */
export function parseExposition(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const seen = new Set<string>();
  const typed = new Set<string>();
  let current: MetricFamily | undefined;
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const [i, raw] of lines.entries()) {
    const n = i + 1;
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!m) continue; // a plain comment
      const [, kind, name, rest = ''] = m;
      if (!METRIC_NAME.test(name!)) throw new ExpositionError(n, `bad metric name "${name}"`);
      let family = families.get(name!);
      if (family && family !== current) throw new ExpositionError(n, `metric family ${name} is split`);
      if (!family) { family = { name: name!, type: 'untyped', samples: [] }; families.set(name!, family); }
      if (kind === 'TYPE') {
        if (!TYPES.includes(rest.trim() as MetricType)) throw new ExpositionError(n, `unknown type "${rest.trim()}"`);
        if (family.samples.length > 0 || typed.has(name!)) throw new ExpositionError(n, `TYPE of ${name} after its samples or twice`);
        typed.add(name!);
        family.type = rest.trim() as MetricType;
      } else {
        if (family.help !== undefined) throw new ExpositionError(n, `HELP of ${name} twice`);
        family.help = unescape(rest, n, false);
      }
      current = family;
      continue;
    }
    const sample = parseSample(line, n);
    const family = familyOf(sample.name, current);
    if (!family) throw new ExpositionError(n, `sample ${sample.name} does not belong to the family declared before it`);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) throw new ExpositionError(n, `series ${sample.name}${JSON.stringify(sample.labels)} appears twice`);
    seen.add(key);
    family.samples.push(sample);
  }
  return families;
}

/** Every sample of one family (none when it is absent). */
export function samplesOf(families: Map<string, MetricFamily>, name: string): Sample[] {
  return families.get(name)?.samples ?? [];
}

function familyOf(sampleName: string, current: MetricFamily | undefined): MetricFamily | undefined {
  if (!current) return undefined;
  for (const suffix of SUFFIXES[current.type]) if (sampleName === current.name + suffix) return current;
  return undefined;
}

function parseSample(line: string, n: number): Sample {
  const nameEnd = line.search(/[{\s]/);
  if (nameEnd <= 0) throw new ExpositionError(n, 'a sample needs a name and a value');
  const name = line.slice(0, nameEnd);
  if (!METRIC_NAME.test(name)) throw new ExpositionError(n, `bad metric name "${name}"`);
  let pos = nameEnd;
  const labels: Record<string, string> = {};
  if (line[pos] === '{') {
    pos++;
    for (;;) {
      if (line[pos] === '}') { pos++; break; }
      const eq = line.indexOf('=', pos);
      if (eq < 0) throw new ExpositionError(n, 'a label without "="');
      const label = line.slice(pos, eq);
      if (!LABEL_NAME.test(label)) throw new ExpositionError(n, `bad label name "${label}"`);
      if (label in labels) throw new ExpositionError(n, `label ${label} twice`);
      if (line[eq + 1] !== '"') throw new ExpositionError(n, `label ${label}: value not quoted`);
      let end = eq + 2;
      while (end < line.length && line[end] !== '"') end += line[end] === '\\' ? 2 : 1;
      if (end >= line.length) throw new ExpositionError(n, `label ${label}: unterminated value`);
      labels[label] = unescape(line.slice(eq + 2, end), n, true);
      pos = end + 1;
      if (line[pos] === ',') pos++;
      else if (line[pos] !== '}') throw new ExpositionError(n, `expected "," or "}" after label ${label}`);
    }
  }
  const rest = line.slice(pos);
  const m = /^\s+(\S+)(?:\s+(-?\d+))?$/.exec(rest);
  if (!m) throw new ExpositionError(n, `bad value part "${rest}"`);
  const value = parseValue(m[1]!, n);
  const sample: Sample = { name, labels, value };
  if (m[2] !== undefined) sample.timestamp = Number(m[2]);
  return sample;
}

function parseValue(text: string, n: number): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new ExpositionError(n, `"${text}" is not a number`);
  return Number(text);
}

/** Label values escape `\\`, `\"` and `\n`; HELP text escapes `\\` and `\n`. */
function unescape(text: string, n: number, quoted: boolean): string {
  return text.replace(/\\(.?)/g, (_all, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    if (c === '"' && quoted) return '"';
    throw new ExpositionError(n, `bad escape "\\${c}"`);
  });
}
