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
    metrics: {
      type: 'object', additionalProperties: false,
      properties: {
        intervalMs: { type: 'integer', minimum: 100, description: 'How often each service publishes its metric.field batch, ms. Default 5000.' },
        labelQueryKeys: {
          type: 'array', uniqueItems: true,
          items: { type: 'string', pattern: '^(?!__)[A-Za-z_][A-Za-z0-9_]*$' },
          description: 'Metric field query keys that become Prometheus labels (e.g. "rule"); others are left out to bound cardinality.',
        },
      },
    },
    tenantSubjects: {
      type: 'object', additionalProperties: false,
      description: 'Every tenant\'s events under its own subject prefix (SECURITY.md): a delivery whose tenant header disagrees with its subject is dead-lettered (SB_ERR_TENANT_MISMATCH), such a publish refused.',
      properties: { prefix: { type: 'string', description: 'Whole subject tokens ending in ".", one of them "{tenant}". Default "{tenant}.".' } },
    },
    scale: {
      type: 'object', additionalProperties: false, required: ['coordination'],
      description: 'Running more than one instance: services share work by partition, owned through leases in the engine.',
      properties: {
        partitions: { type: 'integer', minimum: 1, maximum: 4096, description: 'Partitions of each input the pipeline feeds itself (fixed for the pipeline\'s life). Default 16.' },
        coordination: { enum: ['nats', 'amqp', 'memory'], description: 'Who decides ownership and keeps checkpoints: NATS JetStream KV leases, RabbitMQ single-active-consumer quorum queues, or this process only.' },
        url: { type: 'string', minLength: 1, description: 'Server of the coordination (default: the first nats:// or, for amqp, amqp:// transport).' },
        replicas: { type: 'integer', minimum: 1, maximum: 5, description: 'Replicas of the KV buckets (3 on a 3-node cluster). Default 1.' },
        leaseTtlMs: { type: 'integer', minimum: 1000, description: 'A lease not renewed for this long lapses and its partition moves (amqp: a member silent this long leaves the balance). Default 5000.' },
        checkpointIntervalMs: { type: 'integer', minimum: 100, description: 'How often each partition checkpoints state and input position. Default 1000.' },
        partitionedInputs: {
          type: 'array', items: { type: 'string', minLength: 1 },
          description: 'Inputs from outside that the NATS server partitions itself, by a mapping to part.{{partition(<partitions>,<token>)}}.<subject>: their consumers share the work like the stages inside.',
        },
      },
    },
    services: {
      type: 'array', minItems: 1,
      items: {
        type: 'object', additionalProperties: false, required: ['kind', 'config'],
        properties: {
          kind: { type: 'string', description: 'ingest, filter, aggregate, alert or sink' },
          name: { type: 'string', pattern: '^[A-Za-z0-9._-]+$', description: 'Service name (default: the kind).' },
          instances: { type: 'integer', minimum: 1, maximum: 64, description: 'Copies in this process sharing the work by partition (as separate processes do with scale).' },
          config: { type: 'object' },
        },
      },
    },
  },
} as const;
