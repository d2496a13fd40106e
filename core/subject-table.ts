import type { FieldCounter, MetricsRecorder } from './metrics.js';
import type { ServiceIdentity } from './service-identity.js';
import { compilePattern, validateSubject, type SubjectMatcher } from './subjects.js';
import type { Transport } from './transport.js';

/** Per-subject metric counters, made once per subject so the hot path does no string work. */
export interface SubjectCounters {
  published: FieldCounter; rejected: FieldCounter; delivered: FieldCounter; acked: FieldCounter;
  retried: FieldCounter; deadlettered: FieldCounter; invalid: FieldCounter; skipped: FieldCounter; dropped: FieldCounter;
  /** Dropped by a transport that cannot hold its sender back, because the subscription's queue was full. */
  intakeDropped: FieldCounter;
}

/** What the Bus keeps per concrete subject, found with one lookup. */
export interface SubjectEntry extends SubjectCounters {
  /** The transport the routes send it to. */
  readonly transport: Transport;
  /** Its bounded metric context (see `SubjectTable`). */
  readonly context: string;
  /**
   * It passed `validateSubject`. The Bus checks a subject the first time it publishes to it;
   * subjects it only received came from a transport and are not checked.
   */
  validated: boolean;
}

const METRICS_PREFIX = 'signalbus.metrics.';
const NOT_COUNTED = { add() {} } as unknown as FieldCounter;
/** Past this many subjects the table starts afresh (the recorder keeps the counters themselves). */
const MAX_SUBJECTS = 10_000;
/** Subscription patterns kept as metric contexts, at most (a Bus subscribing to ever new patterns). */
const MAX_PATTERNS = 1_000;

/**
 * Routing and per-subject state: each concrete subject's transport, counters and whether it was
 * checked, in one entry. Patterns are routed but not kept (they have no counters).
 *
 * The counters' metric context is bounded: the first subscription pattern of this Bus that
 * matches the subject, else the first route pattern, else its first token and `.>`
 * (`sensor.reading.d-7` → `sensor.>`), never the subject itself, which may name a device.
 */
export class SubjectTable {
  private readonly entries = new Map<string, SubjectEntry>();
  private readonly patterns: Array<{ pattern: string; match: SubjectMatcher }> = [];

  constructor(private readonly routes: ReadonlyArray<{ pattern: string; match: SubjectMatcher; transport: Transport }>, private readonly defaultTransport: Transport,
    private readonly metrics: MetricsRecorder, private readonly identity: ServiceIdentity) {}

  /** A pattern this Bus subscribed to: the metric context of the subjects it matches from now on. */
  subscribed(pattern: string): void {
    if (this.patterns.length >= MAX_PATTERNS || this.patterns.some((p) => p.pattern === pattern)) return;
    this.patterns.push({ pattern, match: compilePattern(pattern) });
    // Entries made before may count under another context; they are made again on next use.
    this.entries.clear();
  }

  /** The bounded metric context of a concrete subject (see the class comment). */
  contextOf(subject: string): string {
    for (const p of this.patterns) if (p.match(subject)) return p.pattern;
    for (const r of this.routes) if (r.match(subject)) return r.pattern;
    const dot = subject.indexOf('.');
    return dot < 0 ? subject : `${subject.slice(0, dot)}.>`;
  }

  get size(): number { return this.entries.size; }

  /** The transport a subject or pattern is routed to: the first matching rule, else the default. */
  transportFor(subjectOrPattern: string): Transport {
    const known = this.entries.get(subjectOrPattern);
    return known !== undefined ? known.transport : this.route(subjectOrPattern);
  }

  /** A subject's entry, made on first use (not checked: see `forPublish`). */
  entry(subject: string): SubjectEntry {
    return this.entries.get(subject) ?? this.add(subject);
  }

  /** A subject's entry for publishing to it: the subject is checked once, on its first publish. */
  forPublish(subject: string): SubjectEntry {
    const known = this.entries.get(subject);
    if (known !== undefined && known.validated) return known;
    validateSubject(subject);
    const e = known ?? this.entry(subject);
    e.validated = true;
    return e;
  }

  private route(subject: string): Transport {
    for (const r of this.routes) if (r.match(subject)) return r.transport;
    return this.defaultTransport;
  }

  private add(subject: string): SubjectEntry {
    // Metric batches are not counted: counting them would publish a batch about batches forever.
    const counted = !subject.startsWith(METRICS_PREFIX);
    const { app, container } = this.identity;
    const context = this.contextOf(subject);
    const f = (event: string, action: string) => counted ? this.metrics.counter({ app, container, context, event, action }) : NOT_COUNTED;
    const e: SubjectEntry = {
      published: f('published', 'sent'), rejected: f('published', 'rejected'), delivered: f('received', 'delivered'),
      acked: f('handled', 'acked'), retried: f('failed', 'retried'), deadlettered: f('failed', 'deadlettered'),
      invalid: f('invalid', 'deadlettered'), skipped: f('received', 'skipped'), dropped: f('failed', 'dropped'),
      intakeDropped: f('intake', 'dropped'),
      transport: this.route(subject), context, validated: false,
    };
    if (this.entries.size >= MAX_SUBJECTS) this.entries.clear();
    this.entries.set(subject, e);
    return e;
  }
}

export { METRICS_PREFIX };
