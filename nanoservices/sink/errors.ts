import { SignalbusError } from '../../core/index.js';

/**
 * PostgreSQL refused a row for good: a data exception (SQLSTATE class 22, e.g. `22P05` for a
 * `\u0000` in JSON) or an integrity constraint (class 23, e.g. `23514` for a CHECK). Permanent:
 * the Bus dead-letters the message at once with `dlqreason` SB_ERR_SINK_REFUSED and a `dlqmessage`
 * that starts with `SQLSTATE <code>`; `sqlstate` holds the database's code.
 */
export class SinkRowRefusedError extends SignalbusError {
  readonly code = 'SB_ERR_SINK_REFUSED';
  readonly permanent = true;
  constructor(readonly sqlstate: string, message: string, options: { cause?: unknown; table: string }) {
    super(`SQLSTATE ${sqlstate}: ${message} (table ${options.table})`, { cause: options.cause, details: { sqlstate, table: options.table } });
  }
}

/**
 * The table a row goes to does not have the columns, types or primary key the sink writes
 * (`setup: 'check'` found it missing or different, or `create` found an older, different table).
 * Permanent for the rows of that table: they are dead-lettered with SB_ERR_SINK_SCHEMA.
 */
export class SinkSchemaError extends SignalbusError {
  readonly code = 'SB_ERR_SINK_SCHEMA';
  readonly permanent = true;
}

/**
 * The sink gave up on a row it had not stored because it is stopping (the database was
 * unreachable until then). Not permanent: the message is left to the transport's redelivery.
 */
export class SinkUnavailableError extends SignalbusError { readonly code = 'SB_ERR_SINK_UNAVAILABLE'; }

/** The `pg` package is not installed: it is an optional peer dependency, needed only by the sink. */
export class SinkDriverMissingError extends SignalbusError { readonly code = 'SB_ERR_SINK_DRIVER_MISSING'; }
