import type { Bus, FieldCounter, HandlerContext } from '../core/index.js';

/** One metric field (`event action`) counted per context and key. */
export interface KeyedMetric {
  /** Counts `service:context?<keyAs>=key event action` once; `key` undefined counts it without a query. */
  add(ctx: HandlerContext, context: string, key: string | undefined): void;
}

const MAX_COUNTERS = 10_000;

/**
 * Metric fields counted per key through cached counters. `ctx.metric` formats and validates the
 * field text on every call; here that happens once per context and key, after which counting is
 * two map lookups and an increment (the same counters `ctx.metric` would count on).
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
  private readonly fields: Array<Map<string, Map<string | undefined, FieldCounter>>> = [];
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

  field(event: string, action: string): KeyedMetric {
    const byContext = new Map<string, Map<string | undefined, FieldCounter>>();
    this.fields.push(byContext);
    const keyAs = this.keyAs;
    return {
      add: (ctx, context, key) => {
        const bus = this.bus;
        if (bus === undefined || this.shared) {
          ctx.metric(event, action, { context, query: key === undefined ? undefined : { [keyAs]: key } });
          return;
        }
        let byKey = byContext.get(context);
        if (byKey === undefined) { byKey = new Map(); byContext.set(context, byKey); }
        let counter = byKey.get(key);
        if (counter === undefined) {
          if (this.size >= MAX_COUNTERS) this.clear();
          const { app, container } = bus.identity;
          counter = bus.metrics.counter({ app, container, context, event, action, ...(key === undefined ? {} : { query: { [keyAs]: key } }) });
          byKey.set(key, counter);
          this.size++;
        }
        counter.add();
      },
    };
  }

  private clear(): void {
    for (const f of this.fields) f.clear();
    this.size = 0;
  }
}
