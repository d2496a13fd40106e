import { MetricFieldInvalidError } from './errors.js';

/**
 * One metric field: `service:context?query event action` (DESIGN.md section 7), e.g.
 * `filter@edge-1:sensor.reading?site=berlin received forwarded`.
 */
export interface MetricField {
  /** The nanoservice (or `bus`). */
  app: string;
  /** The instance, when there are several. */
  container?: string;
  /**
   * The package being worked on: a contract name or a subject pattern (`sensor.reading.>`), kept
   * bounded; parameters such as the device go in `query`.
   */
  context: string;
  /** Its parameters (key, device, rule …); formatted with keys sorted. */
  query?: Record<string, string>;
  /** What happened: received, invalid, passed, windowclosed, threshold … */
  event: string;
  /** What was done: forwarded, dropped, deadlettered, retried, raised … */
  action: string;
}

const NAME = /^[A-Za-z0-9._-]+$/;
// A context may be any subject or pattern (tokens carry `~ : @ =` too) or a contract name.
const CONTEXT = /^[A-Za-z0-9._/*>~:@=-]+$/;
const VERB = /^[a-z][a-z0-9_.-]*$/;
const LINE = /^([A-Za-z0-9._-]+)(?:@([A-Za-z0-9._-]+))?:([A-Za-z0-9._/*>~:@=-]+)(?:\?([^ ]*))? ([a-z][a-z0-9_.-]*) ([a-z][a-z0-9_.-]*)$/;

function fail(message: string, field?: string): never {
  throw new MetricFieldInvalidError(message, field === undefined ? undefined : { details: { field } });
}

/** Checks every part of a field; throws MetricFieldInvalidError naming the part. */
export function validateMetricField(f: MetricField): void {
  if (typeof f.app !== 'string' || !NAME.test(f.app)) fail(`metric field app "${f.app}" must match [A-Za-z0-9._-]+`, 'app');
  if (f.container !== undefined && !NAME.test(f.container)) fail(`metric field container "${f.container}" must match [A-Za-z0-9._-]+`, 'container');
  if (typeof f.context !== 'string' || !CONTEXT.test(f.context)) fail(`metric field context "${f.context}" must match [A-Za-z0-9._/*>~:@=-]+`, 'context');
  if (typeof f.event !== 'string' || !VERB.test(f.event)) fail(`metric field event "${f.event}" must match [a-z][a-z0-9_.-]*`, 'event');
  if (typeof f.action !== 'string' || !VERB.test(f.action)) fail(`metric field action "${f.action}" must match [a-z][a-z0-9_.-]*`, 'action');
  if (f.query !== undefined) {
    for (const [k, v] of Object.entries(f.query)) {
      if (k.length === 0) fail('metric field query has an empty key', 'query');
      if (typeof v !== 'string') fail(`metric field query "${k}" must be a string`, 'query');
    }
  }
}

/** The canonical query string: form-urlencoded, keys sorted. Empty string for no query. */
export function formatQuery(query: Record<string, string> | undefined): string {
  if (query === undefined) return '';
  const keys = Object.keys(query).sort();
  if (keys.length === 0) return '';
  const params = new URLSearchParams();
  for (const k of keys) params.append(k, query[k]!);
  return params.toString();
}

/**
 * The text form of a field.
 * @example formatMetricField({ app: 'filter', container: 'edge-1', context: 'sensor.reading', query: { site: 'berlin' }, event: 'received', action: 'forwarded' })
 * // 'filter@edge-1:sensor.reading?site=berlin received forwarded'
 */
export function formatMetricField(f: MetricField): string {
  validateMetricField(f);
  const q = formatQuery(f.query);
  return `${f.app}${f.container === undefined ? '' : `@${f.container}`}:${f.context}${q === '' ? '' : `?${q}`} ${f.event} ${f.action}`;
}

/** Parses the text form strictly: canonical query (sorted, unique keys) and nothing extra. */
export function parseMetricField(line: string): MetricField {
  const m = LINE.exec(line);
  if (!m) fail(`"${line}" is not "service:context?query event action"`);
  const [, app, container, context, rawQuery, event, action] = m;
  const field: MetricField = { app: app!, context: context!, event: event!, action: action! };
  if (container !== undefined) field.container = container;
  if (rawQuery !== undefined) {
    if (rawQuery === '') fail(`"${line}" has an empty query after "?"`, 'query');
    const query: Record<string, string> = {};
    let previous: string | undefined;
    for (const [k, v] of new URLSearchParams(rawQuery)) {
      if (k === '') fail(`"${line}" has a query parameter with an empty key`, 'query');
      if (previous !== undefined && k <= previous) fail(`"${line}" query keys must be unique and sorted`, 'query');
      previous = k;
      query[k] = v;
    }
    if (formatQuery(query) !== rawQuery) fail(`"${line}" query is not in canonical form (${formatQuery(query)})`, 'query');
    field.query = query;
  }
  return field;
}
