import { predicateSchemaDefs } from './predicate.js';

/** JSON Schema of a `filter` service config in a pipeline file (the code-only `predicate` is left out). */
export const filterConfigSchema = {
  title: 'filter nanoservice config',
  type: 'object',
  required: ['input', 'output', 'where'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9._-]+$' },
    input: { type: 'string', minLength: 1, description: 'subject pattern consumed' },
    output: { type: 'string', minLength: 1, description: 'subject template, {path} reads the envelope' },
    where: { $ref: '#/$defs/predicate' },
    keyField: { type: 'string', minLength: 1 },
    keyAs: { type: 'string', pattern: '^[A-Za-z0-9_]+$' },
    group: { type: 'string', minLength: 1 },
    maxInFlight: { type: 'integer', minimum: 1 },
  },
  $defs: predicateSchemaDefs,
};
