const identifier = { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$' };
const positive = { type: 'integer', minimum: 1 };

/** JSON Schema of a `sink` service config in a pipeline file. */
export const sinkConfigSchema = {
  title: 'sink nanoservice config (PostgreSQL)',
  type: 'object',
  required: ['input'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9._-]+$' },
    input: { type: 'string', minLength: 1, description: 'subject pattern consumed' },
    url: { type: 'string', minLength: 1, description: 'PostgreSQL URL; default: the environment variable PG_URL' },
    schema: { ...identifier, description: 'PostgreSQL schema of the tables. Default public' },
    table: { ...identifier, description: 'one table for every event; default: a table per contract and major version' },
    setup: { enum: ['create', 'check'], description: 'create tables and indexes if missing (default), or only check them' },
    maxBatchRows: positive,
    maxBatchBytes: positive,
    maxBatchDelayMs: positive,
    batchesInFlight: { type: 'integer', minimum: 1, maximum: 32 },
    maxInFlight: positive,
    group: { type: 'string', minLength: 1 },
    reconnect: {
      type: 'object', additionalProperties: false,
      properties: { initialDelayMs: { type: 'number', minimum: 0 }, maxDelayMs: { type: 'number', minimum: 0 }, multiplier: { type: 'number', minimum: 1 }, jitter: { type: 'number', minimum: 0, maximum: 1 } },
    },
  },
};
