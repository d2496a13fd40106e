/**
 * Counts web/app events per tenant, event and minute, and answers queries about them. The events
 * are stored in PostgreSQL by a sink nanoservice, and the counts are read from there, so they
 * survive a restart and every instance of the service answers the same.
 *
 * The tenant always comes from the envelope's `tenant` attribute, which the HTTP gateway stamps
 * from the caller's JWT; a tenant named in the body is never trusted.
 */
import pg from 'pg';
import { defineNanoservice, ContractInvalidError, type Envelope, type HandlerContext, type NanoserviceDefinition } from '../../core/index.js';
import { createSinkService } from '../../nanoservices/index.js';

/** What a web or mobile app posts. */
export interface AppEvent {
  user_id: string;
  event_id: string;
  operation_id?: string;
  timestamp: string | number;
  further_data?: Record<string, unknown>;
}

export interface AnalyticsQuery {
  /** Only this event (default: all). */
  event_id?: string;
  /** Minute buckets from/to (ISO or epoch ms), inclusive. Default: everything kept. */
  from?: string | number;
  to?: string | number;
}

export interface AnalyticsAnswer {
  tenant: string;
  /** `{ "<event_id>": { "<minute ISO>": count } }` */
  counts: Record<string, Record<string, number>>;
  total: number;
}

export interface AnalyticsOptions {
  /** PostgreSQL URL. Default: PG_URL, else the local `test` database. */
  url?: string;
  /** Schema of the events table. Default `analytics`. */
  schema?: string;
}

/** Where checked events travel from the analytics service to its sink. */
export const CHECKED_EVENTS = 'analytics.checked';
/** The table the sink stores them in (one for every event type of the app). */
export const EVENTS_TABLE = 'app_events';

function epochMs(value: unknown, field: string): number {
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw new ContractInvalidError(`/${field} must be an ISO timestamp or epoch ms, got ${JSON.stringify(value)}`);
  return ms;
}

function checkEvent(data: unknown): AppEvent {
  const e = data as Partial<AppEvent> | null;
  if (e === null || typeof e !== 'object') throw new ContractInvalidError('the event must be a JSON object');
  for (const field of ['user_id', 'event_id'] as const) {
    if (typeof e[field] !== 'string' || e[field]!.length === 0) throw new ContractInvalidError(`/${field} must be a non-empty string`);
  }
  epochMs(e.timestamp, 'timestamp');
  return e as AppEvent;
}

/**
 * The two services of the example: `analytics` checks events and answers queries (from
 * PostgreSQL), `sink` stores the checked events (CloudEvents `time` = the app's timestamp, so the
 * table's `(tenant, time)` index serves the per-tenant query).
 *
 * @example
 * const { analytics, sink } = createAnalyticsServices({ url: process.env.PG_URL });
 * await runNanoservice(bus, sink); await runNanoservice(bus, analytics);
 * // POST /v1/events/analytics.events (JWT with a tenant claim), then
 * // POST /v1/requests/analytics.query {"event_id": "checkout"}
 */
export function createAnalyticsServices(options: AnalyticsOptions = {}): { analytics: NanoserviceDefinition; sink: NanoserviceDefinition } {
  const url = options.url ?? process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = options.schema ?? 'analytics';
  let pool: pg.Pool | undefined;

  const check = async (message: Envelope, ctx: HandlerContext) => {
    const tenant = message.tenant;
    if (!tenant) throw new ContractInvalidError('analytics events need a tenant (post them through an authenticated gateway)');
    const event = checkEvent(message.data);
    const time = new Date(epochMs(event.timestamp, 'timestamp')).toISOString();
    await ctx.publish(CHECKED_EVENTS, event, { type: 'app.event', headers: { time } });
    ctx.metric('received', 'forwarded', { context: 'analytics.events', query: { event: event.event_id, tenant } });
  };

  const query = async (message: Envelope, ctx: HandlerContext): Promise<AnalyticsAnswer> => {
    const tenant = message.tenant;
    if (!tenant) throw new ContractInvalidError('queries need a tenant (ask through an authenticated gateway)');
    const q = (message.data ?? {}) as AnalyticsQuery;
    // A minute bucket counts when its start lies within [from, to].
    const from = q.from === undefined ? null : new Date(epochMs(q.from, 'from')).toISOString();
    const to = q.to === undefined ? null : new Date(epochMs(q.to, 'to')).toISOString();
    const { rows } = await pool!.query<{ event: string; minute: Date; n: string }>(
      `SELECT data->>'event_id' AS event, date_trunc('minute', time) AS minute, count(*) AS n FROM "${schema}"."${EVENTS_TABLE}"
       WHERE tenant = $1 AND ($2::text IS NULL OR data->>'event_id' = $2) AND ($3::timestamptz IS NULL OR date_trunc('minute', time) >= $3) AND ($4::timestamptz IS NULL OR date_trunc('minute', time) <= $4)
       GROUP BY 1, 2 ORDER BY 1, 2`,
      [tenant, q.event_id ?? null, from, to]);
    const answer: AnalyticsAnswer = { tenant, counts: {}, total: 0 };
    for (const r of rows) {
      const n = Number(r.n);
      (answer.counts[r.event] ??= {})[r.minute.toISOString()] = n;
      answer.total += n;
    }
    ctx.metric('queried', 'answered', { context: 'analytics.query', query: { tenant } });
    return answer;
  };

  const analytics = defineNanoservice({
    name: 'analytics', version: '2.0.0',
    subscriptions: [
      { pattern: 'analytics.events', handler: check },
      { pattern: 'analytics.query', handler: query, kind: 'request' },
    ],
  });
  return {
    analytics: {
      ...analytics,
      start: async () => { pool = new pg.Pool({ connectionString: url, max: 2 }); pool.on('error', () => undefined); },
      stop: async () => { await pool?.end(); pool = undefined; },
    },
    sink: createSinkService({ name: 'analytics-sink', input: CHECKED_EVENTS, url, schema, table: EVENTS_TABLE }),
  };
}
