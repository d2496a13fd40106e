/**
 * What the web console shows, kept on the gateway's side: metric fields with their rates,
 * throughput per service, active and resolved alerts, recent dead letters. Built from the events
 * themselves (metric batches, `alert.*`, `dlq.*`), bounded whatever the event rate, and read per
 * caller: each entry remembers the `tenant` of the event it came from and `snapshot(who)` keeps
 * what `mayRead(who, …)` allows, so a tenant sees its own events only (metric batches carry no
 * tenant: operators see them, tenants do not).
 */
import { mayRead, type AuthResult } from '../auth/authenticator.js';
import { parseMetricField, type MetricBatch } from '../core/index.js';

/** The pipeline the console draws: each service with the subjects it reads and writes. */
export interface ConsolePipeline {
  name: string;
  services: Array<{ name: string; kind: string; inputs: string[]; outputs: string[]; instances?: number }>;
}

export interface FieldRow {
  service: string; container: string; context: string; query: string; event: string; action: string;
  /** Counted since the console started. */
  count: number;
  /** Per second over the last batch; 0 once no batch has carried it for three intervals. */
  rate: number;
}
export interface AlertRow {
  alertId: string; device: string; rule: string; severity: string; value: number;
  /** Epoch ms the condition began to hold (else when it was raised). */
  since: number;
  resolvedAt?: number;
  subject: string;
}
export interface DeadLetterRow { subject: string; reason: string; message: string; service: string; attempts: string; at: number }
export interface GraphEdge { from: string; to: string; subject: string; rate: number }
export interface ConsoleSnapshot {
  now: number;
  tenant: string | null;
  fields: FieldRow[];
  /** Rows held for this caller; `fields` has the busiest `MAX_FIELD_ROWS_SENT` of them. */
  fieldsTotal: number;
  /** Per service: `[epoch second, messages received per second]`, oldest first. */
  throughput: Record<string, Array<[number, number]>>;
  alerts: { active: AlertRow[]; activeTotal: number; resolved: AlertRow[] };
  deadLetters: { recent: DeadLetterRow[]; byReason: Record<string, number>; total: number };
  pipeline: { name: string; services: Array<{ name: string; kind: string; instances: number }>; edges: GraphEdge[] } | null;
  /** Scale-out: partitions held per member (`<service>@<instance>`); null when not scaled out. */
  ownership: Record<string, number[]> | null;
}

/** Bounds: what the console holds and sends, whatever the event rate. */
export const CONSOLE_LIMITS = {
  fieldRows: 5000, fieldRowsSent: 1000, activeAlerts: 5000, activeAlertsSent: 200, resolvedKept: 500, resolvedSent: 20,
  deadLettersKept: 500, deadLettersSent: 20, historySeconds: 300, charts: 200,
} as const;

interface StoredField extends FieldRow { tenant: string | undefined; updated: number; intervalMs: number }
interface StoredAlert extends AlertRow { tenant: string | undefined }
interface StoredDeadLetter extends DeadLetterRow { tenant: string | undefined }
/** What one instance of a service received per second, batch by batch. */
interface History { tenant: string | undefined; service: string; intervalSec: number; points: Array<[number, number]> }

type Who = AuthResult | undefined;

/**
 * The console's bounded view of the pipeline's events. `version` grows with every change.
 *
 * @example
 * const state = new ConsoleState();
 * state.addDeadLetter('dlq.devices.d1.telemetry', { dlqreason: 'SB_ERR_CODEC_DECODE' }, 'acme');
 * state.snapshot({ principal: 'u', tenant: 'acme' }, {}).deadLetters.byReason; // { SB_ERR_CODEC_DECODE: 1 }
 */
export class ConsoleState {
  version = 0;
  private readonly fields = new Map<string, StoredField>();
  private readonly history = new Map<string, History>();
  private readonly active = new Map<string, StoredAlert>();
  private resolved: StoredAlert[] = [];
  private deadLetters: StoredDeadLetter[] = [];
  private readonly deadByReason = new Map<string, { tenant: string | undefined; reason: string; count: number }>();

  /** One `metric.field` batch. Fields that do not parse are skipped (a foreign publisher's). */
  addMetrics(batch: MetricBatch, tenant: string | undefined, now = Date.now()): void {
    if (!batch || typeof batch.service !== 'string' || !Array.isArray(batch.fields)) return;
    const intervalMs = Math.max(1, Date.parse(batch.end) - Date.parse(batch.start)) || 1000;
    let received = 0;
    let container: string | undefined;
    for (const f of batch.fields) {
      if (typeof f?.field !== 'string' || typeof f.count !== 'number') continue;
      const key = `${tenant ?? ''}\n${f.field}`;
      let row = this.fields.get(key);
      if (!row) {
        let parsed;
        try { parsed = parseMetricField(f.field); } catch { continue; }
        if (this.fields.size >= CONSOLE_LIMITS.fieldRows) this.evictIdleFields();
        row = {
          service: parsed.app, container: parsed.container ?? '', context: parsed.context,
          query: parsed.query ? new URLSearchParams(parsed.query).toString() : '', event: parsed.event, action: parsed.action,
          count: 0, rate: 0, tenant, updated: now, intervalMs,
        };
        this.fields.set(key, row);
      }
      row.count += f.count;
      row.rate = f.count / (intervalMs / 1000);
      row.updated = now;
      row.intervalMs = intervalMs;
      if (row.event === 'received' && row.action === 'delivered') received += f.count;
      container ??= row.container;
    }
    const hkey = `${tenant ?? ''}\n${batch.service}\n${container ?? ''}`;
    let h = this.history.get(hkey);
    if (!h) {
      if (this.history.size >= CONSOLE_LIMITS.charts) { this.version++; return; }
      h = { tenant, service: batch.service, intervalSec: 1, points: [] };
      this.history.set(hkey, h);
    }
    const second = Math.floor((Date.parse(batch.end) || now) / 1000);
    const rate = received / (intervalMs / 1000);
    h.intervalSec = Math.max(1, Math.round(intervalMs / 1000));
    const last = h.points[h.points.length - 1];
    if (last && last[0] === second) last[1] += rate; else h.points.push([second, rate]);
    const oldest = Math.floor(now / 1000) - CONSOLE_LIMITS.historySeconds;
    while (h.points.length > 0 && h.points[0]![0] < oldest) h.points.shift();
    this.version++;
  }

  /** An `alert.raised` or `alert.resolved` event (its data decoded). */
  addAlert(type: string, data: Record<string, unknown>, subject: string, tenant: string | undefined, now = Date.now()): void {
    if (!data || typeof data !== 'object' || typeof data.alertId !== 'string') return;
    const key = `${tenant ?? ''}\n${data.alertId}`;
    const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
    const row: StoredAlert = {
      alertId: data.alertId, device: String(data.deviceId ?? data.key ?? ''), rule: String(data.rule ?? ''), severity: String(data.severity ?? ''),
      value: num(data.value, NaN), since: num(data.since, num(data.raisedAt, now)), subject, tenant,
    };
    if (type === 'alert.raised') {
      if (!this.active.has(key) && this.active.size >= CONSOLE_LIMITS.activeAlerts) this.active.delete(this.active.keys().next().value!);
      this.active.set(key, row);
    } else if (type === 'alert.resolved') {
      const was = this.active.get(key);
      this.active.delete(key);
      this.resolved.push({ ...(was ?? row), value: row.value, resolvedAt: num(data.resolvedAt, now) });
      if (this.resolved.length > CONSOLE_LIMITS.resolvedKept * 2) this.resolved = this.resolved.slice(-CONSOLE_LIMITS.resolvedKept);
    } else return;
    this.version++;
  }

  /** A dead letter from `dlq.<subject>`: its `dlq*` attributes only (its data is never read). */
  addDeadLetter(subject: string, attributes: Record<string, unknown>, tenant: string | undefined, now = Date.now()): void {
    const reason = String(attributes.dlqreason ?? 'unknown');
    this.deadLetters.push({
      subject: String(attributes.dlqsubject ?? subject.replace(/^dlq\./, '')), reason, message: String(attributes.dlqmessage ?? ''),
      service: String(attributes.dlqservice ?? ''), attempts: String(attributes.dlqattempts ?? ''), at: now, tenant,
    });
    if (this.deadLetters.length > CONSOLE_LIMITS.deadLettersKept * 2) this.deadLetters = this.deadLetters.slice(-CONSOLE_LIMITS.deadLettersKept);
    const key = `${tenant ?? ''}\n${reason}`;
    const counted = this.deadByReason.get(key);
    if (counted) counted.count++;
    // Reasons are error codes, a short list; a flood of made-up ones stops being told apart.
    else if (this.deadByReason.size < 1000) this.deadByReason.set(key, { tenant, reason, count: 1 });
    this.version++;
  }

  /** What `who` may see now, newest first where it is a list. */
  snapshot(who: Who, extra: { pipeline?: ConsolePipeline; ownership?: Record<string, number[]> }, now = Date.now()): ConsoleSnapshot {
    const visible = <T extends { tenant: string | undefined }>(x: T) => mayRead(who, x);
    const fields: FieldRow[] = [];
    for (const f of this.fields.values()) {
      if (!visible(f)) continue;
      const stale = now - f.updated > 3 * f.intervalMs + 1000;
      fields.push({ service: f.service, container: f.container, context: f.context, query: f.query, event: f.event, action: f.action, count: f.count, rate: stale ? 0 : f.rate });
    }
    const fieldsTotal = fields.length;
    if (fields.length > CONSOLE_LIMITS.fieldRowsSent) fields.sort((a, b) => b.rate - a.rate || b.count - a.count).length = CONSOLE_LIMITS.fieldRowsSent;
    fields.sort((a, b) => a.service.localeCompare(b.service) || a.context.localeCompare(b.context) || a.query.localeCompare(b.query)
      || a.event.localeCompare(b.event) || a.action.localeCompare(b.action) || a.container.localeCompare(b.container));

    const instances = new Map<string, History[]>();
    for (const h of this.history.values()) if (visible(h)) instances.set(h.service, [...(instances.get(h.service) ?? []), h]);
    const throughput: ConsoleSnapshot['throughput'] = {};
    for (const [service, list] of instances) throughput[service] = serviceRate(list, Math.floor(now / 1000) - CONSOLE_LIMITS.historySeconds);

    const active = [...this.active.values()].filter(visible);
    const byReason: Record<string, number> = {};
    let total = 0;
    for (const r of this.deadByReason.values()) if (visible(r)) { byReason[r.reason] = (byReason[r.reason] ?? 0) + r.count; total += r.count; }
    return {
      now, tenant: who?.tenant ?? null, fields, fieldsTotal, throughput,
      alerts: {
        active: active.slice(-CONSOLE_LIMITS.activeAlertsSent).reverse().map(strip), activeTotal: active.length,
        resolved: newest(this.resolved, visible, CONSOLE_LIMITS.resolvedSent),
      },
      deadLetters: { recent: newest(this.deadLetters, visible, CONSOLE_LIMITS.deadLettersSent), byReason, total },
      pipeline: extra.pipeline ? graphOf(extra.pipeline, fields) : null,
      ownership: extra.ownership ?? null,
    };
  }

  /** Lets go of the tenth of the rows idle longest: one sort per many new fields, not a scan per field. */
  private evictIdleFields(): void {
    const byIdle = [...this.fields].sort((a, b) => a[1].updated - b[1].updated);
    for (const [key] of byIdle.slice(0, Math.max(1, Math.floor(CONSOLE_LIMITS.fieldRows / 10)))) this.fields.delete(key);
  }
}

/**
 * A service's rate at each second one of its instances reported: the sum of every instance's
 * latest rate then (instances end their batches in different seconds; adding only the batches
 * of the same second would zigzag between one instance's rate and all of theirs).
 */
function serviceRate(list: History[], oldest: number): Array<[number, number]> {
  const seconds = [...new Set(list.flatMap((h) => h.points.map((p) => p[0])))].filter((t) => t >= oldest).sort((a, b) => a - b);
  const at = list.map(() => 0);
  return seconds.map((t) => {
    let sum = 0;
    list.forEach((h, i) => {
      while (at[i]! + 1 < h.points.length && h.points[at[i]! + 1]![0] <= t) at[i]!++;
      const p = h.points[at[i]!];
      // An instance that stopped reporting stops counting after three of its intervals.
      if (p && p[0] <= t && t - p[0] < 3 * h.intervalSec) sum += p[1];
    });
    return [t, Math.round(sum * 10) / 10];
  });
}

function strip<T extends { tenant: string | undefined }>(x: T): Omit<T, 'tenant'> {
  const { tenant: _tenant, ...rest } = x;
  return rest;
}

function newest<T extends { tenant: string | undefined }>(list: T[], visible: (x: T) => boolean, max: number): Array<Omit<T, 'tenant'>> {
  const out: Array<Omit<T, 'tenant'>> = [];
  for (let i = list.length - 1; i >= 0 && out.length < max; i--) if (visible(list[i]!)) out.push(strip(list[i]!));
  return out;
}

/**
 * Services joined by the subjects between them: an edge from a producer to every consumer whose
 * input pattern its output can match, from an input nobody produces (a source subject) and to an
 * output nobody consumes (a sink subject). An edge into a service carries the rate that service
 * receives on that input; an edge to a sink, the rate its producer publishes there.
 */
export function graphOf(p: ConsolePipeline, fields: FieldRow[]): NonNullable<ConsoleSnapshot['pipeline']> {
  const rateOf = (service: string, match: (f: FieldRow) => boolean) => {
    let sum = 0;
    for (const f of fields) if (f.service === service && match(f)) sum += f.rate;
    return Math.round(sum * 10) / 10;
  };
  const received = (service: string, input: string) => rateOf(service, (f) => f.event === 'received' && f.action === 'delivered' && f.context === input);
  const edges: GraphEdge[] = [];
  for (const consumer of p.services) {
    for (const input of consumer.inputs) {
      const producers = p.services.filter((s) => s.outputs.some((o) => subjectsOverlap(o, input)));
      if (producers.length === 0) edges.push({ from: `subject:${input}`, to: consumer.name, subject: input, rate: received(consumer.name, input) });
      for (const producer of producers) edges.push({ from: producer.name, to: consumer.name, subject: input, rate: received(consumer.name, input) });
    }
  }
  for (const producer of p.services) {
    for (const output of producer.outputs) {
      if (p.services.some((s) => s.inputs.some((i) => subjectsOverlap(output, i)))) continue;
      edges.push({ from: producer.name, to: `subject:${output}`, subject: output,
        rate: rateOf(producer.name, (f) => f.event === 'published' && f.action === 'sent' && subjectsOverlap(output, f.context)) });
    }
  }
  return { name: p.name, services: p.services.map((s) => ({ name: s.name, kind: s.kind, instances: s.instances ?? 1 })), edges };
}

/**
 * Whether some subject matches both: patterns (`*`, `>`) or output templates, whose `{…}`
 * placeholders stand for one token each.
 * @example subjectsOverlap('sensor.valid.{data.deviceId}', 'sensor.valid.>') // true
 */
export function subjectsOverlap(a: string, b: string): boolean {
  const ta = a.replace(/\{[^}]*\}/g, '*').split('.');
  const tb = b.replace(/\{[^}]*\}/g, '*').split('.');
  for (let i = 0; ; i++) {
    const x = ta[i];
    const y = tb[i];
    if (x === undefined || y === undefined) return x === y;
    if (x === '>' || y === '>') return true;
    if (x !== '*' && y !== '*' && x !== y) return false;
  }
}
