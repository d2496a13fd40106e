const fieldName = { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' };

/** JSON Schema of an `ingest` service config in a pipeline file (the code-only `validate` and `now` are left out). */
export const ingestConfigSchema = {
  title: 'ingest nanoservice config',
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9._-]+$' },
    input: { type: 'string', minLength: 1, description: 'subject pattern of the raw payloads' },
    output: { type: 'string', minLength: 1, description: 'subject template, {field} reads the mapped data' },
    type: { type: 'string', minLength: 1 },
    version: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+(?:[-+][0-9A-Za-z.+-]+)?$' },
    key: { type: 'string', minLength: 1 },
    subjectTokens: { type: 'object', propertyNames: fieldName, additionalProperties: { type: 'integer' } },
    rename: { type: 'object', propertyNames: { type: 'string', pattern: '^[^.]+(\\.[^.]+)*$' }, additionalProperties: fieldName },
    pick: { type: 'array', items: fieldName },
    static: { type: 'object', propertyNames: fieldName, additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }, { type: 'null' }] } },
    receivedAt: { oneOf: [fieldName, { const: false }] },
    tenant: { type: 'string', minLength: 1 },
    tenantField: fieldName,
    required: { type: 'object', propertyNames: fieldName, additionalProperties: { enum: ['string', 'number', 'integer', 'boolean', 'object', 'array'] } },
    dedupe: {
      type: 'object', required: ['field'], additionalProperties: false,
      properties: { field: { type: 'string', minLength: 1 }, window: { type: 'integer', minimum: 1 } },
    },
    group: { type: 'string', minLength: 1 },
    maxInFlight: { type: 'integer', minimum: 1 },
  },
};
