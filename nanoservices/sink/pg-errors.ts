/**
 * What a failed statement means for its rows. PostgreSQL's SQLSTATE classes 22 (data exception)
 * and 23 (integrity constraint violation) refuse a row for what it holds: trying it again fails
 * again. Everything else (a lost connection, a restart, `pg_terminate_backend`, a lock timeout,
 * a table dropped under the sink) is about the database, not the row: the rows wait and are tried
 * again, so nothing is dropped while the database is away.
 */
export type PgFailure =
  | { kind: 'refused'; sqlstate: string; message: string }
  | { kind: 'unavailable'; code: string; message: string; tableMissing: boolean };

export function classifyPgError(err: unknown): PgFailure {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  // SQLSTATEs are five characters; Node's socket errors (ECONNREFUSED) are longer.
  if (code !== undefined && code.length === 5 && (code.startsWith('22') || code.startsWith('23'))) return { kind: 'refused', sqlstate: code, message };
  // 42P01 undefined_table, 42703 undefined_column: the table changed under the sink; it is prepared again.
  return { kind: 'unavailable', code: code ?? 'unknown', message, tableMissing: code === '42P01' || code === '42703' };
}
