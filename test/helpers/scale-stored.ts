import { expect } from 'chai';
import type pg from 'pg';
import { waitFor } from './wait.js';

/** Services of the scaled IoT examples that hold one lease (plain input), the others one per partition. */
export const SINGLE_LEASE = ['ingest', 'store-aggregates', 'store-alerts'];

/** Rows of one of the sink's tables matching `where`, 0 while the table does not exist yet. */
async function count(pool: pg.Pool, schema: string, table: string, where = 'true'): Promise<number> {
  try {
    return Number((await pool.query(`SELECT count(*) AS n FROM "${schema}"."${table}" WHERE ${where}`)).rows[0].n);
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return 0; // undefined_table: nothing stored there yet
    throw err;
  }
}

/**
 * What the scaled IoT examples' sinks stored in `schema`, once they caught up: every reading once
 * (no two rows for one device and timestamp), every alert once (one raise and one resolve per
 * episode), and exactly the windows (before `windowsBefore`) the broker delivered, by id.
 */
export async function expectStored(pool: pg.Pool, schema: string, o: {
  readings: number; alerts: number; windowIds: readonly string[]; windowsBefore: number; note(what: string): void;
}): Promise<void> {
  const counted = `(data->'window'->>'start')::bigint < ${Number(o.windowsBefore)}`;
  const readings = () => count(pool, schema, 'sensor_reading_v2');
  const alerts = async () => (await count(pool, schema, 'alert_raised_v1')) + (await count(pool, schema, 'alert_resolved_v1'));
  const windows = () => count(pool, schema, 'sensor_aggregate_v1', counted);
  let seen = '';
  await waitFor(async () => {
    const [r, a, w] = [await readings(), await alerts(), await windows()];
    seen = `${r} readings, ${a} alerts, ${w} windows`;
    return r >= o.readings && a >= o.alerts && w >= o.windowIds.length;
  }, { timeoutMs: 60_000, intervalMs: 500, what: () => `${o.readings} readings, ${o.alerts} alerts and ${o.windowIds.length} windows in PostgreSQL (got ${seen})` });
  o.note(`PostgreSQL: ${seen}`);

  const rows = async (sql: string) => (await pool.query(sql)).rows as Array<Record<string, unknown>>;
  const twice = await rows(`SELECT data->>'deviceId' AS device, data->>'ts' AS ts, count(*)::int AS n, array_agg(source) AS sources
    FROM "${schema}".sensor_reading_v2 GROUP BY 1, 2 HAVING count(*) > 1 ORDER BY 1, 2 LIMIT 5`);
  expect(twice, 'readings stored twice (device, ts)').to.deep.equal([]);
  expect(await readings(), 'readings stored').to.equal(o.readings);

  const alertTwice = await rows(`SELECT type, data->>'key' AS key, count(*)::int AS n FROM (
      SELECT type, data FROM "${schema}".alert_raised_v1 UNION ALL SELECT type, data FROM "${schema}".alert_resolved_v1) a
    GROUP BY 1, 2 HAVING count(*) > 1 ORDER BY 1, 2 LIMIT 5`);
  expect(alertTwice, 'alerts stored twice (type, device)').to.deep.equal([]);
  expect(await alerts(), 'alerts stored').to.equal(o.alerts);

  const stored = (await rows(`SELECT id FROM "${schema}".sensor_aggregate_v1 WHERE ${counted}`)).map((r) => String(r.id));
  expect(stored.length, 'window rows (a window stored twice under two sources shows here)').to.equal(new Set(stored).size);
  const delivered = new Set(o.windowIds);
  expect(stored.filter((id) => !delivered.has(id)).slice(0, 5), 'windows stored the broker never delivered').to.deep.equal([]);
  const kept = new Set(stored);
  expect(o.windowIds.filter((id) => !kept.has(id)).slice(0, 5), 'windows delivered but not stored').to.deep.equal([]);
}
