import { createHash } from 'node:crypto';
import { versionOfDataschema } from '../ingest/naming.js';
import { SinkSchemaError } from './errors.js';
import type { SinkPool } from './pg-driver.js';
import { COLUMNS } from './rows.js';

/** PostgreSQL truncates identifiers past 63 bytes; longer names are shortened with a hash instead. */
const MAX_IDENTIFIER = 63;

/** `name` as a lower-case PostgreSQL identifier: `[a-z0-9_]`, not starting with a digit, at most 63 bytes. */
export function identifier(name: string): string {
  let id = name.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  if (!/^[a-z_]/.test(id)) id = `t_${id}`;
  if (id.length > MAX_IDENTIFIER) id = `${id.slice(0, MAX_IDENTIFIER - 9)}_${createHash('sha1').update(name).digest('hex').slice(0, 8)}`;
  return id;
}

/**
 * The table of a contract's events: the type and the major version of its `dataschema`
 * (`sensor.reading` 2.1.0 → `sensor_reading_v2`), so a breaking change of the schema starts a new
 * table. Events without a signalbus `dataschema` go to the type's name alone.
 */
export function tableOf(type: string, dataschema: unknown): string {
  const version = versionOfDataschema(dataschema);
  const major = version === undefined ? undefined : /^(\d+)\./.exec(version)?.[1];
  return identifier(major === undefined ? type : `${type}_v${major}`);
}

/** `"schema"."table"`, quoted (the names are already identifiers; quoting keeps reserved words safe). */
export function qualified(schema: string, table: string): string {
  return `"${schema}"."${table}"`;
}

/**
 * The insert of a batch: one parameter, a JSON array of row objects, turned into rows by
 * `jsonb_to_recordset`. A statement then has one parameter however many rows it carries (a
 * multi-row VALUES list would hit PostgreSQL's 65,535 parameters at ~4,000 rows, and its text
 * changes with the row count, so it cannot stay prepared), and the event data, JSON already, is
 * neither escaped again by the client nor parsed twice by the server. A row already stored (same
 * `source` and `id`) is skipped: redeliveries are absorbed.
 */
export function insertStatement(schema: string, table: string): string {
  const names = COLUMNS.map(([name]) => `"${name}"`).join(', ');
  const types = COLUMNS.map(([name, type]) => `"${name}" ${type}`).join(', ');
  return `INSERT INTO ${qualified(schema, table)} (${names}) SELECT ${names} FROM jsonb_to_recordset($1::jsonb) AS r(${types}) ON CONFLICT (source, id) DO NOTHING`;
}

/** The DDL of a sink table and its indexes (event time, and tenant + time for per-tenant queries). */
export function createStatements(schema: string, table: string): string[] {
  const q = qualified(schema, table);
  const columns = COLUMNS.map(([name, type]) => `"${name}" ${type}${name === 'source' || name === 'id' || name === 'type' || name === 'specversion' ? ' NOT NULL' : ''}`);
  return [
    `CREATE SCHEMA IF NOT EXISTS "${schema}"`,
    `CREATE TABLE IF NOT EXISTS ${q} (${columns.join(', ')}, "stored_at" timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source, id))`,
    `CREATE INDEX IF NOT EXISTS "${identifier(`${table}_time_idx`)}" ON ${q} ("time")`,
    `CREATE INDEX IF NOT EXISTS "${identifier(`${table}_tenant_time_idx`)}" ON ${q} ("tenant", "time")`,
  ];
}

/**
 * Creates the table (`create`), then checks in both modes that it has every column with its type
 * and a primary key or unique index on exactly (source, id), which `ON CONFLICT` needs. Creation
 * runs in a transaction under an advisory lock on the schema, so sinks starting together (on one
 * table or on several of one schema) do not race on it.
 * A table that does not fit is SinkSchemaError naming what is wrong.
 */
export async function prepareTable(pool: SinkPool, schema: string, table: string, setup: 'create' | 'check'): Promise<void> {
  if (setup === 'create') {
    // Keyed on the schema, not the table: every table's setup also creates the schema, and two
    // sinks creating one schema for two tables at once collide on it (a unique violation in
    // pg_namespace, IF NOT EXISTS notwithstanding).
    const lock = `SELECT pg_advisory_xact_lock(hashtext('signalbus.sink:' || $1))`;
    const statements = createStatements(schema, table);
    // One connection for the whole transaction: a Pool's query() may take a different one each time.
    await inTransaction(pool, async (query) => {
      await query(lock, [schema]);
      for (const s of statements) await query(s);
    });
  }
  const { rows } = await pool.query({
    text: `SELECT column_name, data_type, udt_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`,
    values: [schema, table],
  });
  if (rows.length === 0) throw new SinkSchemaError(`table ${schema}.${table} does not exist (setup: 'check' does not create it)`, { details: { schema, table } });
  const types = new Map(rows.map((r) => [String(r.column_name), String(r.udt_name)]));
  for (const [name, type] of COLUMNS) {
    const found = types.get(name);
    if (found === undefined) throw new SinkSchemaError(`table ${schema}.${table} has no column "${name}" (${type})`, { details: { schema, table, column: name } });
    if (found !== type) throw new SinkSchemaError(`table ${schema}.${table} column "${name}" is ${found}, the sink writes ${type}`, { details: { schema, table, column: name } });
  }
  const key = await pool.query({
    text: `SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND i.indisunique AND i.indpred IS NULL
        AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ANY(i.indkey)) = ARRAY['id', 'source']
        AND i.indnatts = 2`,
    values: [schema, table],
  });
  if (key.rows.length === 0) {
    throw new SinkSchemaError(`table ${schema}.${table} has no primary key or unique index on (source, id); the sink's ON CONFLICT needs one`, { details: { schema, table } });
  }
}

type Query = (text: string, values?: unknown[]) => Promise<unknown>;

async function inTransaction(pool: SinkPool, work: (query: Query) => Promise<void>): Promise<void> {
  const client = await pool.connect();
  // pg-pool stops listening for a client's `error` while it is checked out, and a connection the
  // server ends meanwhile (pg_terminate_backend, a restart) emits one besides failing the query
  // under way: without a listener of ours that would crash the process.
  let broken: Error | undefined;
  const onError = (err: Error): void => { broken ??= err; };
  client.on('error', onError);
  let failed: unknown;
  try {
    await client.query('BEGIN');
    await work((t, v) => client.query(t, v));
    await client.query('COMMIT');
  } catch (err) {
    failed = err;
    if (broken === undefined) await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    // A client whose connection broke is destroyed rather than handed out again; it keeps our
    // listener, as its end may still be reported. A healthy one goes back to the pool, which listens again.
    const destroyWith = broken ?? (failed instanceof Error ? failed : undefined);
    if (destroyWith === undefined) client.removeListener('error', onError);
    client.release(destroyWith);
  }
}
