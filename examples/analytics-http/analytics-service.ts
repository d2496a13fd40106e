/**
 * Counts web/app events per tenant, event and minute, and answers queries about them.
 * The tenant always comes from the envelope's `tenant` attribute, which the HTTP gateway stamps
 * from the caller's JWT; a tenant named in the body is never trusted.
 */
import { defineNanoservice, ContractInvalidError, type Envelope, type HandlerContext, type NanoserviceDefinition } from '../../core/index.js';

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

const MINUTE = 60_000;

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
 * @example
 * await startNanoservice(bus, createAnalyticsService({ retainMinutes: 1440 }));
 * // POST /v1/events/analytics.events (JWT with a tenant claim), then
 * // POST /v1/requests/analytics.query {"event_id": "checkout"}
 */
export function createAnalyticsService(options: { retainMinutes?: number } = {}): NanoserviceDefinition & { counts: Map<string, number> } {
  const retainMs = (options.retainMinutes ?? 24 * 60) * MINUTE;
  // key: tenant \u0000 event \u0000 minute(ms)
  const counts = new Map<string, number>();

  const record = async (message: Envelope, ctx: HandlerContext) => {
    const tenant = message.tenant;
    if (!tenant) throw new ContractInvalidError('analytics events need a tenant (post them through an authenticated gateway)');
    const event = checkEvent(message.data);
    const minute = Math.floor(epochMs(event.timestamp, 'timestamp') / MINUTE) * MINUTE;
    const key = `${tenant}\u0000${event.event_id}\u0000${minute}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    ctx.metric('received', 'counted', { context: 'analytics.events', query: { event: event.event_id, tenant } });
    const horizon = Date.now() - retainMs;
    if (counts.size > 100_000) for (const k of counts.keys()) if (Number(k.split('\u0000')[2]) < horizon) counts.delete(k);
  };

  const query = async (message: Envelope, ctx: HandlerContext): Promise<AnalyticsAnswer> => {
    const tenant = message.tenant;
    if (!tenant) throw new ContractInvalidError('queries need a tenant (ask through an authenticated gateway)');
    const q = (message.data ?? {}) as AnalyticsQuery;
    const from = q.from === undefined ? -Infinity : epochMs(q.from, 'from');
    const to = q.to === undefined ? Infinity : epochMs(q.to, 'to');
    const answer: AnalyticsAnswer = { tenant, counts: {}, total: 0 };
    for (const [key, n] of counts) {
      const [t, event, minute] = key.split('\u0000') as [string, string, string];
      const at = Number(minute);
      if (t !== tenant || (q.event_id !== undefined && event !== q.event_id) || at < from || at > to) continue;
      (answer.counts[event] ??= {})[new Date(at).toISOString()] = n;
      answer.total += n;
    }
    ctx.metric('queried', 'answered', { context: 'analytics.query', query: { tenant } });
    return answer;
  };

  const def = defineNanoservice({
    name: 'analytics', version: '1.0.0',
    subscriptions: [
      { pattern: 'analytics.events', handler: record, ordered: true },
      { pattern: 'analytics.query', handler: query, kind: 'request' },
    ],
  });
  return Object.assign(def, { counts });
}
