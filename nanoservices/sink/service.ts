import {
  defineNanoservice, OptionsInvalidError, resolveReconnectOptions, type Bus, type Envelope, type FieldCounter, type HandlerContext,
  type Logger, type NanoserviceDefinition, type ReconnectOptions,
} from '../../core/index.js';
import { positiveInt } from '../filter/service.js';
import { BatchWriter, type WriterEvents } from './batch-writer.js';
import { SinkSchemaError } from './errors.js';
import { acquireSharedPool, type SharedPool } from './pg-driver.js';
import { toRow } from './rows.js';
import { tableOf } from './table.js';

/** Configuration of the sink nanoservice (JSON-able). */
export interface SinkConfig {
  /** Service name used for the definition. Default `sink`. */
  name?: string;
  /** Subject pattern to consume, e.g. `sensor.reading.>`. */
  input: string;
  /** PostgreSQL URL (`postgres://user@host:5432/db`). Default: the environment variable `PG_URL`. */
  url?: string;
  /** Schema of the tables; created with them in `create` mode. Default `public`. */
  schema?: string;
  /**
   * One table for every event consumed. Default: a table per contract and major version of its
   * `dataschema` (`sensor.reading` 2.x → `sensor_reading_v2`), so a breaking schema change starts a new table.
   */
  table?: string;
  /**
   * `create` (default): create the schema, tables and indexes when missing (a fixed `table` at
   * start, a per-contract one before its first batch), then check them. `check`: never run DDL,
   * only check; a table that is missing or different dead-letters its rows with SB_ERR_SINK_SCHEMA
   * (a fixed `table` fails the start instead).
   */
  setup?: 'create' | 'check';
  /** A batch is written once it holds this many rows. Default 500. */
  maxBatchRows?: number;
  /** … or this many characters of row data (JSON, attributes). Default 4 MiB. */
  maxBatchBytes?: number;
  /** … or when its first row is this old, ms. Default 20. */
  maxBatchDelayMs?: number;
  /** Batches written at once (also the connection pool's size, plus one for DDL). Default 2. */
  batchesInFlight?: number;
  /**
   * Messages handled at once; each waits for its batch to commit, so this bounds what waits while
   * the database is away (backpressure). Default `maxBatchRows * (batchesInFlight + 1)`; less
   * than `maxBatchRows` means batches close by age, never full.
   */
  maxInFlight?: number;
  /** Consumer group: sink instances share the messages. */
  group?: string;
  /** Backoff between tries of a batch while the database is unavailable (it never gives up). Default 100 ms doubling to 5 s, jitter 0.2. */
  reconnect?: Omit<ReconnectOptions, 'maxAttempts'>;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function identifierOption(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new OptionsInvalidError(`${field} must be a PostgreSQL identifier: a letter or _, then letters, digits or _, at most 63`, { details: { field } });
  }
  // Unquoted identifiers fold to lower case in SQL; the sink quotes them, so it folds them itself.
  return value.toLowerCase();
}

/** Metric fields of one table, made once. */
interface TableCounters { stored: FieldCounter; duplicate: FieldCounter; batch: FieldCounter }

/**
 * The sink nanoservice: stores the events it consumes in PostgreSQL, one row per event
 * (CloudEvents attributes as columns, data as `jsonb`), idempotently (primary key `(source, id)`,
 * `ON CONFLICT DO NOTHING`), in batches. A message is acked once its batch committed. Needs the
 * optional peer dependency `pg`, loaded at start.
 *
 * @example
 * await runNanoservice(bus, createSinkService({ input: 'sensor.>', url: 'postgres://postgres@127.0.0.1/test' }));
 */
export function createSinkService(config: SinkConfig): NanoserviceDefinition {
  if (config === null || typeof config !== 'object') throw new OptionsInvalidError('sink config must be an object', { details: { field: 'config' } });
  const url = config.url ?? process.env.PG_URL;
  if (typeof url !== 'string' || url.length === 0) {
    throw new OptionsInvalidError('sink needs a PostgreSQL URL: set url, or the environment variable PG_URL', { details: { field: 'url' } });
  }
  const name = config.name ?? 'sink';
  const schema = identifierOption(config.schema, 'schema') ?? 'public';
  const fixedTable = identifierOption(config.table, 'table');
  const setup = config.setup ?? 'create';
  if (setup !== 'create' && setup !== 'check') throw new OptionsInvalidError('setup must be create or check', { details: { field: 'setup' } });
  const maxBatchRows = positiveInt(config.maxBatchRows, 500, 'maxBatchRows');
  const maxBatchBytes = positiveInt(config.maxBatchBytes, 4 * 1024 * 1024, 'maxBatchBytes');
  const maxBatchDelayMs = positiveInt(config.maxBatchDelayMs, 20, 'maxBatchDelayMs');
  const batchesInFlight = positiveInt(config.batchesInFlight, 2, 'batchesInFlight');
  const maxInFlight = positiveInt(config.maxInFlight, maxBatchRows * (batchesInFlight + 1), 'maxInFlight');
  if (config.reconnect !== undefined && 'maxAttempts' in config.reconnect) {
    throw new OptionsInvalidError('reconnect.maxAttempts is not a sink option: it tries a batch for as long as it runs, it never drops one', { details: { field: 'reconnect.maxAttempts' } });
  }
  const reconnect = resolveReconnectOptions('sink', config.reconnect, { initialDelayMs: 100, maxDelayMs: 5000, multiplier: 2, jitter: 0.2, maxAttempts: Infinity }, false);

  let held: SharedPool | undefined;
  let writer: BatchWriter | undefined;
  // Table per dataschema (or type, without one): the name is worked out once per contract version.
  const tables = new Map<string, string>();
  const tableFor = (message: Envelope): string => {
    if (fixedTable !== undefined) return fixedTable;
    const key = typeof message.dataschema === 'string' ? message.dataschema : message.type;
    let table = tables.get(key);
    if (table === undefined) {
      table = tableOf(message.type, message.dataschema);
      if (tables.size >= 1000) tables.clear();
      tables.set(key, table);
    }
    return table;
  };

  const handle = (message: Envelope, ctx: HandlerContext): Promise<void> => {
    const { row, size } = toRow(message);
    return writer!.write(tableFor(message), row, size, ctx);
  };

  const def = defineNanoservice({
    name, version: '1.0.0',
    subscriptions: [{ pattern: config.input, handler: handle as never, group: config.group, maxInFlight, maxPending: Math.max(1000, maxInFlight) }],
  });

  const start = async (bus: Bus): Promise<void> => {
    const logger = bus.logger.child({ sink: name });
    // Shared by every copy of this sink in the process (one per partition lease when scaled). An
    // idle connection the server closed (a restart, pg_terminate_backend) is reported to the
    // listener and replaced by the pool; without a listener the error would end the process.
    held = await acquireSharedPool({
      connectionString: url, max: batchesInFlight + 1, connectionTimeoutMillis: 5000,
      applicationName: `signalbus ${bus.identity.app}@${bus.identity.container}`.slice(0, 63),
    }, (err) => logger.warn('sink: an idle PostgreSQL connection was closed', { err }));
    const p = held.pool;
    writer = new BatchWriter({
      pool: p, schema, setup, maxBatchRows, maxBatchBytes, maxBatchDelayMs, batchesInFlight, reconnect, logger,
      events: writerEvents(bus, schema, logger),
    });
    if (fixedTable !== undefined) {
      try { await writer.prepare(fixedTable); } catch (err) {
        if (err instanceof SinkSchemaError) { await held.release(); held = undefined; throw err; }
        // The database is not there yet: the first batch prepares the table, retrying until it is.
        logger.warn('sink: could not prepare its table at start; the first batch will', { table: `${schema}.${fixedTable}`, err });
      }
    }
  };

  const stop = async (): Promise<void> => {
    await writer?.stop();
    await held?.release();
    writer = undefined;
    held = undefined;
  };

  return { ...def, start, stop };
}

/** Metric fields: context = the table (`schema.table`), counted per row, per batch and per failure. */
function writerEvents(bus: Bus, schema: string, logger: Logger): WriterEvents {
  const { app, container } = bus.identity;
  const byTable = new Map<string, TableCounters>();
  const counters = (table: string): TableCounters => {
    let c = byTable.get(table);
    if (c === undefined) {
      const context = `${schema}.${table}`;
      const field = (event: string, action: string) => bus.metrics.counter({ app, container, context, event, action });
      c = { stored: field('received', 'stored'), duplicate: field('duplicate', 'ignored'), batch: field('batch', 'committed') };
      byTable.set(table, c);
    }
    return c;
  };
  return {
    committed(table, rows, inserted) {
      const c = counters(table);
      c.batch.add(rows);
      for (let i = 0; i < inserted; i++) c.stored.add();
      for (let i = inserted; i < rows; i++) c.duplicate.add();
    },
    refused(table, sqlstate) {
      bus.metric('refused', 'deadlettered', { context: `${schema}.${table}`, query: { sqlstate } });
    },
    retrying(table, code, attempt, delayMs, message) {
      bus.metric('unavailable', 'retried', { context: `${schema}.${table}`, query: { code } });
      const fields = { table: `${schema}.${table}`, code, attempt, delayMs, message };
      if (attempt === 1 || attempt % 10 === 0) logger.warn('sink: PostgreSQL did not take a batch; trying again', fields);
      else logger.debug('sink: PostgreSQL did not take a batch; trying again', fields);
    },
  };
}
