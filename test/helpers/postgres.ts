import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { missingPrerequisite } from './brokers.js';

/** The PostgreSQL the sink's tests use: PG_URL, else the machine's (trust auth, database `test`). */
export const PG_TEST_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * An admin pool for a suite's checks, or the suite is skipped (fails under CI=true) when
 * PostgreSQL does not answer. Call from `before` with `function () {}`.
 */
export async function requirePostgres(ctx: Mocha.Context): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: PG_TEST_URL, max: 3, connectionTimeoutMillis: 3000 });
  pool.on('error', () => undefined); // idle connections ended by tests that terminate backends
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    return missingPrerequisite(ctx, `PostgreSQL is not reachable at ${PG_TEST_URL} (${(err as Error).message})`);
  }
  return pool;
}

/** A schema name of the test's own (`sb_test_<random>`), to be dropped in `after`. */
export function testSchema(): string {
  return `sb_test_${randomBytes(5).toString('hex')}`;
}

export async function dropSchema(pool: pg.Pool | undefined, schema: string): Promise<void> {
  await pool?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}
