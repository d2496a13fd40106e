import { STAT_NAMES } from './window.js';

const path = { type: 'string', pattern: '^[^.]+(\\.[^.]+)*$' };
const ms = { type: 'integer', minimum: 0 };

/** JSON Schema of an `aggregate` service config in a pipeline file (the code-only `checkpointStore` and `now` are left out). */
export const aggregateConfigSchema = {
  title: 'aggregate nanoservice config',
  type: 'object',
  required: ['input', 'fields', 'window'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9._-]+$' },
    input: { type: 'string', minLength: 1 },
    output: { type: 'string', minLength: 1 },
    type: { type: 'string', minLength: 1 },
    version: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+(?:[-+][0-9A-Za-z.+-]+)?$' },
    keyField: path,
    keyAs: { type: 'string', pattern: '^[A-Za-z0-9_]+$' },
    timeField: path,
    fields: { type: 'array', minItems: 1, items: path },
    stats: { type: 'array', items: { enum: [...STAT_NAMES] } },
    window: {
      oneOf: [
        { type: 'object', required: ['kind', 'sizeMs'], additionalProperties: false, properties: { kind: { const: 'tumbling' }, sizeMs: { type: 'integer', minimum: 1 } } },
        { type: 'object', required: ['kind', 'sizeMs', 'slideMs'], additionalProperties: false, properties: { kind: { const: 'sliding' }, sizeMs: { type: 'integer', minimum: 1 }, slideMs: { type: 'integer', minimum: 1 } } },
      ],
    },
    watermarkDelayMs: ms,
    allowedLatenessMs: ms,
    late: { enum: ['deadletter', 'merge'] },
    idleTimeoutMs: ms,
    tickIntervalMs: ms,
    checkpoint: {
      oneOf: [
        { const: false },
        { type: 'object', additionalProperties: false, properties: { name: { type: 'string', minLength: 1 }, intervalMs: ms } },
      ],
    },
    group: { type: 'string', minLength: 1 },
    partitions: {
      type: 'object', required: ['count', 'instanceIndex', 'instanceCount'], additionalProperties: false,
      properties: { count: { type: 'integer', minimum: 1 }, instanceIndex: { type: 'integer', minimum: 0 }, instanceCount: { type: 'integer', minimum: 1 } },
    },
    maxInFlight: { type: 'integer', minimum: 1 },
  },
};
