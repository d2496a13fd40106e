export * from './mapping.js';
export * from './dedupe.js';
export * from './naming.js';
export { createIngestService, INGEST_DEFAULTS, type IngestConfig } from './service.js';
export { ingestConfigSchema } from './schema.js';
