/** JSON Schema (2020-12) of a pipeline file; each service's `config` is checked by its kind's own schema. */
export const pipelineSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:signalbus:pipeline',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'transports', 'services'],
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string', pattern: '^[A-Za-z0-9._-]+$', description: 'Pipeline name, for logs.' },
    description: { type: 'string' },
    instance: { type: 'string', pattern: '^[A-Za-z0-9._-]+$', description: 'Container id of every service (default: host-pid).' },
    transports: {
      type: 'object', minProperties: 1,
      description: 'Named transport URLs; the first is the default for subjects no route names.',
      additionalProperties: { type: 'string', minLength: 1 },
    },
    routes: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, required: ['pattern', 'transport'], properties: { pattern: { type: 'string' }, transport: { type: 'string' } } },
    },
    embedded: {
      type: 'object', additionalProperties: false,
      description: 'Brokers and gateways the runner hosts itself.',
      properties: {
        mqtt: { type: 'object', additionalProperties: false, properties: { port: { type: 'integer', minimum: 1, maximum: 65535 }, host: { type: 'string' } } },
        http: { type: 'object', additionalProperties: false, required: ['url'], properties: { url: { type: 'string' }, transport: { type: 'string' }, options: { type: 'object' } } },
      },
    },
    contracts: { type: 'object', additionalProperties: false, properties: { dirs: { type: 'array', items: { type: 'string' } } } },
    metrics: { type: 'object', additionalProperties: false, properties: { intervalMs: { type: 'integer', minimum: 100 } } },
    services: {
      type: 'array', minItems: 1,
      items: {
        type: 'object', additionalProperties: false, required: ['kind', 'config'],
        properties: {
          kind: { type: 'string', description: 'ingest, filter, aggregate or alert' },
          name: { type: 'string', pattern: '^[A-Za-z0-9._-]+$', description: 'Service name (default: the kind).' },
          instances: { type: 'integer', minimum: 1, maximum: 64, description: 'Copies sharing the work through consumer groups.' },
          config: { type: 'object' },
        },
      },
    },
  },
} as const;
