import { SinkDriverMissingError } from './errors.js';

/** What the sink uses of a `pg` Pool (kept narrow so the published types do not need `@types/pg`). */
export interface SinkPool {
  query(config: { name?: string; text: string; values?: unknown[] }): Promise<{ rowCount: number | null; rows: Array<Record<string, unknown>> }>;
  /** A client of its own, for a transaction; `release(err)` with an error destroys it. */
  connect(): Promise<SinkClient>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface SinkClient {
  query(text: string, values?: unknown[]): Promise<unknown>;
  release(err?: Error | boolean): void;
  /** A checked-out client's `error` event is its holder's to listen to (pg-pool stops listening on checkout). */
  on(event: 'error', listener: (err: Error) => void): unknown;
  removeListener(event: 'error', listener: (err: Error) => void): unknown;
}

export interface SinkPoolOptions {
  connectionString: string;
  max: number;
  /** Shown in `pg_stat_activity.application_name`. */
  applicationName: string;
  connectionTimeoutMillis: number;
}

/**
 * A `pg` Pool, with `pg` loaded on first use: it is an optional peer dependency, so the other
 * nanoservices (and the CLI) work without it. A missing `pg` is SinkDriverMissingError.
 */
export async function openPool(options: SinkPoolOptions): Promise<SinkPool> {
  let pg: { default?: { Pool: new (o: object) => SinkPool }; Pool?: new (o: object) => SinkPool };
  try {
    pg = await import('pg') as typeof pg;
  } catch (cause) {
    throw new SinkDriverMissingError('the sink nanoservice needs the "pg" package: npm install pg', { cause, details: { package: 'pg' } });
  }
  const Pool = pg.default?.Pool ?? pg.Pool!;
  return new Pool({
    connectionString: options.connectionString, max: options.max, application_name: options.applicationName,
    connectionTimeoutMillis: options.connectionTimeoutMillis,
  });
}

interface SharedEntry { pool: Promise<SinkPool>; holders: number }
const shared = new Map<string, SharedEntry>();

/** One process-wide pool per database URL and application name, counted by its holders. */
export interface SharedPool {
  pool: SinkPool;
  /** Gives the pool back; the last holder's release ends it. */
  release(): Promise<void>;
}

/**
 * The pool every copy of a sink in this process shares: a scaled pipeline runs one copy per
 * partition lease (16 by default), and a pool each would open 16 times the connections. The first
 * holder's options size it. The pool's `error` event (an idle connection the server closed) goes
 * to `onIdleError` of the first holder.
 */
export async function acquireSharedPool(options: SinkPoolOptions, onIdleError: (err: Error) => void): Promise<SharedPool> {
  const key = `${options.connectionString}\u0000${options.applicationName}`;
  let entry = shared.get(key);
  if (entry === undefined) {
    const opening = openPool(options).then((p) => { p.on('error', onIdleError); return p; });
    entry = { pool: opening, holders: 0 };
    shared.set(key, entry);
    opening.catch(() => { if (shared.get(key) === entry) shared.delete(key); });
  }
  entry.holders++;
  let pool: SinkPool;
  try {
    pool = await entry.pool;
  } catch (err) {
    entry.holders--;
    throw err;
  }
  let released = false;
  const held = entry;
  return {
    pool,
    release: async () => {
      if (released) return;
      released = true;
      if (--held.holders > 0) return;
      if (shared.get(key) === held) shared.delete(key);
      await pool.end().catch(() => undefined);
    },
  };
}
