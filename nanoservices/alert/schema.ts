const path = { type: 'string', pattern: '^[^.]+(\\.[^.]+)*$' };

/** Properties every rule kind has. */
const common = {
  name: { type: 'string', pattern: '^[A-Za-z0-9._-]+$' },
  field: path,
  direction: { enum: ['above', 'below'] },
  severity: { enum: ['info', 'warning', 'critical'] },
  raise: { $ref: '#/$defs/level' },
  resolve: { $ref: '#/$defs/level' },
};

/** JSON Schema of an `alert` service config in a pipeline file. */
export const alertConfigSchema = {
  title: 'alert nanoservice config',
  type: 'object',
  required: ['input', 'rules'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9._-]+$' },
    input: { type: 'string', minLength: 1 },
    output: { type: 'string', minLength: 1 },
    keyField: path,
    keyAs: { type: 'string', pattern: '^[A-Za-z0-9_]+$' },
    timeField: path,
    raisedType: { type: 'string', minLength: 1 },
    resolvedType: { type: 'string', minLength: 1 },
    version: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+(?:[-+][0-9A-Za-z.+-]+)?$' },
    maxCausationIds: { type: 'integer', minimum: 1, maximum: 50 },
    extendedData: { type: 'boolean' },
    group: { type: 'string', minLength: 1 },
    partitions: {
      type: 'object', required: ['count', 'instanceIndex', 'instanceCount'], additionalProperties: false,
      properties: { count: { type: 'integer', minimum: 1 }, instanceIndex: { type: 'integer', minimum: 0 }, instanceCount: { type: 'integer', minimum: 1 } },
    },
    maxInFlight: { type: 'integer', minimum: 1 },
    rules: { type: 'array', minItems: 1, items: { $ref: '#/$defs/rule' } },
  },
  $defs: {
    level: {
      type: 'object', required: ['value'], additionalProperties: false,
      properties: { value: { type: 'number' }, forReadings: { type: 'integer', minimum: 1 }, forMs: { type: 'integer', minimum: 0 } },
    },
    rule: {
      oneOf: [
        { type: 'object', required: ['name', 'kind', 'field', 'raise'], additionalProperties: false, properties: { ...common, kind: { const: 'threshold' } } },
        {
          type: 'object', required: ['name', 'kind', 'field', 'raise'], additionalProperties: false,
          properties: { ...common, kind: { const: 'rate' }, perMs: { type: 'integer', minimum: 1 }, absolute: { type: 'boolean' } },
        },
        {
          type: 'object', required: ['name', 'kind', 'field', 'raise', 'window'], additionalProperties: false,
          properties: { ...common, kind: { const: 'zscore' }, window: { type: 'integer', minimum: 2 }, minSamples: { type: 'integer', minimum: 2 }, absolute: { type: 'boolean' } },
        },
      ],
    },
  },
};
