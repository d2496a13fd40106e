import { compilePattern, type MetricField } from '../../core/index.js';
import type { CaseRun, DeadLetter, Output } from './harness.js';
import { matchValue, show, type Mismatch } from './matchers.js';
import type { CountSpec, DeadLetterExpectation, MetricExpectation, OutputSelector, TestCase } from './test-file.js';

/** One expectation of a case that did not hold, with the diff that explains it. */
export interface Failure {
  /** Where in the case: `expect[0]`, `expectNone[1]`, `deadLetters`, `metrics[2]`. */
  where: string;
  /** One line: what was expected, what came. */
  summary: string;
  /** The diff: closest output and its differences, or the outputs that should not be there. */
  details: string[];
}

const MAX_LISTED = 5;

/** Everything of a case's expectations that did not hold (empty: it passes). */
export function verifyCase(c: TestCase, run: CaseRun): Failure[] {
  const failures: Failure[] = [];
  for (const [i, e] of (c.expect ?? []).entries()) {
    const matched = run.outputs.filter((o) => mismatchesOf(e, o).length === 0);
    if (countHolds(e.count, matched.length)) continue;
    const summary = `wanted ${describeCount(e.count)} output${plural(e.count)} ${describeSelector(e)}, got ${matched.length}`;
    const details = matched.length > 0 ? ['matched:', ...listOutputs(matched)] : closest(e, run.outputs);
    failures.push({ where: `expect[${i}]`, summary, details });
  }
  for (const [i, e] of (c.expectNone ?? []).entries()) {
    const matched = run.outputs.filter((o) => mismatchesOf(e, o).length === 0);
    if (matched.length === 0) continue;
    failures.push({ where: `expectNone[${i}]`, summary: `wanted no output ${describeSelector(e)}, got ${matched.length}`, details: listOutputs(matched) });
  }
  if (c.deadLetters) failures.push(...verifyDeadLetters(c.deadLetters, run.deadLetters));
  for (const [i, m] of (c.metrics ?? []).entries()) {
    const matching = run.metrics.filter((f) => metricMatches(m, f.field));
    const total = matching.reduce((n, f) => n + f.count, 0);
    if (countHolds(m.count, total)) continue;
    const near = run.metrics.filter((f) => (m.service ?? serviceOf(m)) === undefined || f.field.app === (m.service ?? serviceOf(m)));
    failures.push({
      where: `metrics[${i}]`,
      summary: `wanted ${describeCount(m.count)} of ${describeMetric(m)}, counted ${total}`,
      details: matching.length > 0 ? matching.map((f) => `  ${f.text} = ${f.count}`) : ['counted by that service:', ...near.slice(0, 12).map((f) => `  ${f.text} = ${f.count}`), ...(near.length === 0 ? ['  nothing'] : [])],
    });
  }
  return failures;
}

function verifyDeadLetters(expected: DeadLetterExpectation[], got: DeadLetter[]): Failure[] {
  const failures: Failure[] = [];
  const accounted = new Set<DeadLetter>();
  for (const [i, d] of expected.entries()) {
    const matched = got.filter((g) => deadLetterMatches(d, g));
    matched.forEach((m) => accounted.add(m));
    if (countHolds(d.count, matched.length)) continue;
    const what = [d.reason && `reason ${d.reason}`, d.subject && `from ${d.subject}`, d.service && `by ${d.service}`].filter(Boolean).join(', ');
    failures.push({
      where: `deadLetters[${i}]`, summary: `wanted ${describeCount(d.count)} dead letter${plural(d.count)}${what ? ` (${what})` : ''}, got ${matched.length}`,
      details: got.length === 0 ? ['no dead letters at all'] : ['dead letters:', ...got.slice(0, MAX_LISTED).map(describeDeadLetter)],
    });
  }
  // Listing dead letters says which are expected: any other one is a failure too.
  const others = got.filter((g) => !accounted.has(g));
  if (others.length > 0) failures.push({ where: 'deadLetters', summary: `${others.length} dead letter${others.length === 1 ? '' : 's'} not expected`, details: others.slice(0, MAX_LISTED).map(describeDeadLetter) });
  return failures;
}

function describeDeadLetter(d: DeadLetter): string {
  return `  ${d.output.subject}: ${d.reason} by ${d.service}: ${d.message}`;
}

function deadLetterMatches(e: DeadLetterExpectation, d: DeadLetter): boolean {
  // `dlqservice` is `app@container`; naming the app is enough.
  const service = e.service === undefined || e.service === d.service || e.service === d.service.slice(0, d.service.indexOf('@'));
  return (e.reason === undefined || e.reason === d.reason) && service
    && (e.subject === undefined || compilePattern(e.subject)(d.subject));
}

/** Differences of one output from a selector: subject and type first, then data and headers. */
export function mismatchesOf(s: OutputSelector, o: Output): Mismatch[] {
  const out: Mismatch[] = [];
  if (s.subject !== undefined && !compilePattern(s.subject)(o.subject)) out.push({ path: 'subject', expected: s.subject, got: o.subject });
  if (s.type !== undefined && s.type !== o.envelope.type) out.push({ path: 'type', expected: s.type, got: o.envelope.type });
  if (s.data !== undefined) for (const m of matchValue(s.data, o.envelope.data)) out.push({ ...m, path: `data${m.path}` });
  if (s.headers !== undefined) for (const m of matchValue(s.headers, o.envelope)) out.push({ ...m, path: `headers${m.path}` });
  return out;
}

/** When nothing matched: the output with the fewest differences, and those differences. */
function closest(s: OutputSelector, outputs: Output[]): string[] {
  if (outputs.length === 0) return ['no outputs at all'];
  let best: { o: Output; m: Mismatch[] } | undefined;
  for (const o of outputs) {
    const m = mismatchesOf(s, o);
    // A wrong subject or type weighs more than a wrong data field: it is another kind of message.
    const score = m.reduce((n, x) => n + (x.path === 'subject' || x.path === 'type' ? 3 : 1), 0);
    const bestScore = best ? best.m.reduce((n, x) => n + (x.path === 'subject' || x.path === 'type' ? 3 : 1), 0) : Infinity;
    if (score < bestScore) best = { o, m };
  }
  const { o, m } = best!;
  return [
    `closest (of ${outputs.length}): ${o.subject} ${o.envelope.type} ${show(o.envelope.data, 200)}`,
    ...m.map((x) => `  ${x.path}: expected ${x.expected}, got ${x.got}`),
  ];
}

function listOutputs(outputs: Output[]): string[] {
  const lines = outputs.slice(0, MAX_LISTED).map((o) => `  ${o.subject} ${o.envelope.type} ${show(o.envelope.data, 200)}`);
  if (outputs.length > MAX_LISTED) lines.push(`  … and ${outputs.length - MAX_LISTED} more`);
  return lines;
}

export function countHolds(c: CountSpec | undefined, n: number): boolean {
  if (c === undefined) return n >= 1;
  if (typeof c === 'number') return n === c;
  return (c.min === undefined || n >= c.min) && (c.max === undefined || n <= c.max);
}

function describeCount(c: CountSpec | undefined): string {
  if (c === undefined) return 'at least 1';
  if (typeof c === 'number') return `exactly ${c}`;
  if (c.min !== undefined && c.max !== undefined) return `${c.min} to ${c.max}`;
  return c.min !== undefined ? `at least ${c.min}` : `at most ${c.max}`;
}

function plural(c: CountSpec | undefined): string {
  return c === 1 ? '' : 's';
}

function describeSelector(s: OutputSelector): string {
  const parts = [];
  if (s.subject !== undefined) parts.push(`on ${s.subject}`);
  if (s.type !== undefined) parts.push(`of type ${s.type}`);
  if (s.data !== undefined) parts.push(`with data ${show(s.data)}`);
  if (s.headers !== undefined) parts.push(`with headers ${show(s.headers)}`);
  return parts.join(' ') || '(any)';
}

function parseFieldLoose(text: string): Partial<MetricField> {
  // Validated at load (parseMetricField); split again here to keep the container optional.
  const [head, event, action] = text.split(' ');
  const [service, rest] = [head!.slice(0, head!.indexOf(':')), head!.slice(head!.indexOf(':') + 1)];
  const [app, container] = service.split('@');
  const [context, query] = rest.split('?');
  const out: Partial<MetricField> = { app: app!, context: context!, event: event!, action: action! };
  if (container !== undefined) out.container = container;
  if (query !== undefined) out.query = Object.fromEntries(new URLSearchParams(query));
  return out;
}

function serviceOf(m: MetricExpectation): string | undefined {
  return m.field === undefined ? undefined : parseFieldLoose(m.field).app;
}

/** A field matches when every part named agrees; a query given is matched as a subset. */
function metricMatches(m: MetricExpectation, f: MetricField): boolean {
  const e = m.field === undefined ? { app: m.service, context: m.context, event: m.event, action: m.action, query: m.query } : parseFieldLoose(m.field);
  if (e.app !== undefined && e.app !== f.app) return false;
  if (e.container !== undefined && e.container !== f.container) return false;
  if (e.context !== undefined && e.context !== f.context) return false;
  if (e.event !== undefined && e.event !== f.event) return false;
  if (e.action !== undefined && e.action !== f.action) return false;
  for (const [k, v] of Object.entries(e.query ?? {})) if (f.query?.[k] !== v) return false;
  return true;
}

function describeMetric(m: MetricExpectation): string {
  if (m.field !== undefined) return `"${m.field}"`;
  const f = { app: m.service ?? '*', context: m.context ?? '*', event: m.event ?? '*', action: m.action ?? '*', ...(m.query ? { query: m.query } : {}) };
  return `"${f.app}:${f.context}${f.query ? `?${new URLSearchParams(f.query).toString()}` : ''} ${f.event} ${f.action}"`;
}

