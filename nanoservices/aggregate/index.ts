export * from './window.js';
export * from './checkpoint.js';
export * from './errors.js';
export { AGGREGATE_DEFAULTS, aggregateData, createAggregateService, parseWindowSpec, type AggregateConfig, type AggregateData, type AggregateService } from './service.js';
export { aggregateConfigSchema } from './schema.js';
