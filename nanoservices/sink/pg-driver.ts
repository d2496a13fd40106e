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
