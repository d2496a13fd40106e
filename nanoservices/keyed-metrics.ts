import type { Bus, FieldCounter, HandlerContext } from '../core/index.js';

/** Where a count goes while the cache is off: a handler's `ctx`, or the Bus itself (work done outside a handler). */
export interface MetricSink {
  metric(event: string, action: string, options: { context: string; query?: Record<string, string> }): void;
}

/** One metric field (`event action`) counted per context and key. */
export interface KeyedMetric {
  /**
   * Counts `service:context?<keyAs>=key event action` once (plus the field's fixed query
   * entries); `key` undefined counts it without the key.
   */
  add(sink: HandlerContext | MetricSink, context: string, key: string | undefined): void;
}

const MAX_COUNTERS = 10_000;

/** One field's counters: per context, per key; plus the last context's map (a service mostly counts one context). */
interface FieldCounters {
  byContext: Map<string, Map<string | undefined, FieldCounter>>;
  lastContext: string | undefined;
  lastByKey: Map<string | undefined, FieldCounter> | undefined;
}

/**
 * Metric fields counted per key through cached counters. `ctx.metric` formats and validates the
 * field text on every call; here that happens once per context and key, after which counting is
 * a map lookup or two and an increment (the same counters `ctx.metric` would count on).
 *
 * The counters belong to one Bus: `bind(bus)` in the service's `start`, `unbind()` in its `stop`.
 * Unbound, or started on two buses at once, every count goes through `ctx.metric` as before.
 *
 * @example
 * const metrics = new KeyedMetrics('deviceId');
 * const forwarded = metrics.field('received', 'forwarded');
 * // in start(bus): metrics.bind(bus); in the handler:
 * forwarded.add(ctx, 'sensor.reading', 'd-7'); // ingest:sensor.reading?deviceId=d-7 received forwarded
 */
export class KeyedMetrics {
  private bus: Bus | undefined;
  private shared = false;
  private readonly fields: FieldCounters[] = [];
  private size = 0;

  constructor(private readonly keyAs: string) {}

  /** Counts on `bus` from now on (a second bus at the same time turns the cache off). */
  bind(bus: Bus): void {
    if (this.bus !== undefined && this.bus !== bus) this.shared = true;
    this.bus = bus;
    this.clear();
  }

  /** The bus stopped: back to `ctx.metric` until the next `bind`. */
  unbind(): void {
    this.bus = undefined;
    this.shared = false;
    this.clear();
  }

  /**
   * A field counted per context and key. `query` adds fixed entries to every count's query
   * (`{ rule: 'overheat' }`); on a clash with the key's name they win.
   */
  field(event: string, action: string, query?: Readonly<Record<string, string>>): KeyedMetric {
    const counters: FieldCounters = { byContext: new Map(), lastContext: undefined, lastByKey: undefined };
    this.fields.push(counters);
    const keyAs = this.keyAs;
    const queryOf = (key: string | undefined): Record<string, string> | undefined => {
      if (key === undefined) return query === undefined ? undefined : { ...query };
      return query === undefined ? { [keyAs]: key } : { [keyAs]: key, ...query };
    };
    return {
      add: (sink, context, key) => {
        const bus = this.bus;
        if (bus === undefined || this.shared) {
          sink.metric(event, action, { context, query: queryOf(key) });
          return;
        }
        let byKey = context === counters.lastContext ? counters.lastByKey : counters.byContext.get(context);
        if (byKey === undefined) { byKey = new Map(); counters.byContext.set(context, byKey); }
        counters.lastContext = context;
        counters.lastByKey = byKey;
        let counter = byKey.get(key);
        if (counter === undefined) {
          if (this.size >= MAX_COUNTERS) this.clear();
          const { app, container } = bus.identity;
          const q = queryOf(key);
          counter = bus.metrics.counter({ app, container, context, event, action, ...(q === undefined ? {} : { query: q }) });
          byKey.set(key, counter);
          this.size++;
        }
        counter.add();
      },
    };
  }

  private clear(): void {
    for (const f of this.fields) {
      f.byContext.clear();
      f.lastContext = undefined;
      f.lastByKey = undefined;
    }
    this.size = 0;
  }
}
